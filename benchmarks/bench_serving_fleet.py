"""A fleet in one prediction server: 1,000 deployments, each its own small scikit-learn model
(packaged, loaded from package bytes with the registry's safe loader), served by one process over
HTTP on 127.0.0.1 under a memory cap. Reports the p99 of the first request to each deployment
(cold: the version loads), of a second round (warm), and the process RSS.

``SHIPYARD_BENCH_FLEET`` sets the number of deployments (default 1000) and
``SHIPYARD_BENCH_FLEET_CAP_MB`` the memory cap (default 256).
"""

from __future__ import annotations

import os
import resource
import socket
import threading
import time

import httpx
import uvicorn

from common import Result, percentile
from serving_model import ROW, frame, train
from shipyard.packaging.package import LoadedModel, build_package, load_model
from shipyard.serving.model import Deployment, Target
from shipyard.serving.runtime.http import build_http_app
from shipyard.serving.runtime.server import PredictionServer, ServeConfig
from shipyard.serving.sources import MemoryDeployments

FLEET = int(os.environ.get("SHIPYARD_BENCH_FLEET", "1000"))
CAP_MB = float(os.environ.get("SHIPYARD_BENCH_FLEET_CAP_MB", "256"))


class Packages:
    """A model source of package bytes in memory: version n is a model trained with seed n."""

    def __init__(self, count: int) -> None:
        example = frame(5)
        self.packages = [build_package(train(seed), input_example=example)[0] for seed in range(count)]

    def resolve(self, model: str, ref: str) -> int:
        return int(ref)

    def load(self, model: str, version: int) -> LoadedModel:
        return load_model(self.packages[version - 1], trust_pickle=False)


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run() -> list[Result]:
    source = Packages(FLEET)
    deployments = MemoryDeployments(
        Deployment(f"d{i}", "fleet", "single", (Target("fleet", i, "primary", 100),), public=True)
        for i in range(1, FLEET + 1)
    )
    server = PredictionServer(source, deployments, config=ServeConfig(memory_cap_mb=CAP_MB, preload=0))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(build_http_app(server), log_level="warning", access_log=False)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=60) as client:
        while True:
            try:
                if client.get("/ready").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        before = rss_mb()

        def round_trip() -> list[float]:
            times = []
            for i in range(1, FLEET + 1):
                began = time.perf_counter()
                answer = client.post(f"/v1/deployments/d{i}/predict", json={"inputs": ROW})
                times.append((time.perf_counter() - began) * 1000)
                assert answer.status_code == 200, answer.text
            return times

        cold = round_trip()
        warm = round_trip()
        after = rss_mb()
        loaded = len(server.fleet)
        used = server.fleet.used / 1024 / 1024
    uv.should_exit = True
    thread.join(10)
    note = f"{FLEET} deployments, cap {CAP_MB:g} MB: {loaded} loaded ({used:.1f} MB estimated)"
    return [
        Result("fleet: cold first request p99", percentile(cold, 99), "ms", 500, note),
        Result("fleet: warm request p99", percentile(warm, 99), "ms", 20),
        Result(
            "fleet: server RSS after both rounds", after, "MB", 2048, f"{after - before:.0f} MB for the fleet"
        ),
    ]
