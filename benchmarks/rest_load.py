"""The REST write load, standard library only (it also runs in ``.venv-mlflow``): ``threads``
clients, each alternating a 1-point and a 100-point metric write for ``duration`` seconds, while a
probe asks the health route every 20 ms. Reports requests/s, points/s, latency percentiles and the
points each client had acknowledged (to be read back by the caller)."""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: (thread index, request number) -> (path, JSON body, points it carries)
Request = Callable[[int, int], tuple[str, bytes, int]]


@dataclass
class LoadStats:
    seconds: float
    requests: int = 0
    points: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    health_ms: list[float] = field(default_factory=list)
    acknowledged: dict[int, int] = field(default_factory=dict)  # thread -> points acknowledged

    def percentile(self, values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] if ordered else float("nan")

    def summary(self) -> dict[str, float]:
        return {
            "requests_per_s": self.requests / self.seconds,
            "points_per_s": self.points / self.seconds,
            "p50_ms": self.percentile(self.latencies_ms, 50),
            "p99_ms": self.percentile(self.latencies_ms, 99),
            "health_p99_ms": self.percentile(self.health_ms, 99),
            "errors": self.errors,
            "load_average": os.getloadavg()[0],
        }


def run_load(
    host: str,
    port: int,
    request: Request,
    *,
    headers: dict[str, str],
    health_path: str,
    threads: int = 8,
    duration: float = 20.0,
) -> LoadStats:
    stop = threading.Event()
    lock = threading.Lock()
    stats = LoadStats(seconds=duration)

    def client(index: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        n = acked = 0
        latencies: list[float] = []
        errors = requests = 0
        while not stop.is_set():
            path, body, points = request(index, n)
            n += 1
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers={**headers, "Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
                errors += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status == 200:
                requests += 1
                acked += points
            else:
                errors += 1
        conn.close()
        with lock:
            stats.requests += requests
            stats.points += acked
            stats.errors += errors
            stats.latencies_ms.extend(latencies)
            stats.acknowledged[index] = acked

    def health() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        while not stop.wait(0.02):
            started = time.perf_counter()
            try:
                conn.request("GET", health_path)
                conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
                continue
            stats.health_ms.append((time.perf_counter() - started) * 1000)
        conn.close()

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    workers.append(threading.Thread(target=health))
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    time.sleep(duration)
    stop.set()
    for worker in workers:
        worker.join()
    stats.seconds = time.perf_counter() - started
    return stats


def points_body(key: str, start_step: int, size: int, now_ms: int, **extra: object) -> bytes:
    points = [[key, 0.5 + i / 1000, start_step + i, now_ms + i] for i in range(size)]
    return json.dumps({"points": points, **extra}).encode()
