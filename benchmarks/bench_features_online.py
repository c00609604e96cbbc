"""Online feature reads: 10 features of one view (7 float64, 2 int64, 1 string), 100,000
entities materialized, read through ``FeatureStore.get_online_features`` (resolution, key
encoding, one batched store read, decoding, TTL check).

Targets (p99): in process on SQLite < 0.3 ms for 1 entity and < 2 ms for 100 entities; on Redis
< 1 ms for 1 entity; over HTTP (``POST /api/v1/features/online`` on a real uvicorn server on
127.0.0.1, keep-alive client) < 5 ms. Also the value codec against JSON for one record, and, with
``.venv-feast`` present (``make bench-feast``; or ``SHIPYARD_FEAST_PYTHON``), Feast's SQLite online
store on the same file (``feast_online.py``): the 100-entity read should be >= 4x faster here.
Redis comes from ``SHIPYARD_BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``); when it does
not answer the Redis figures are left out.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from common import Result, percentile
from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.features.model import Entity, FeatureView, FileSource

ENTITIES = 100_000
FEATURES = {**{f"f{i}": "float64" for i in range(7)}, "n0": "int64", "n1": "int64", "city": "string"}
REFS = [f"customer_online:{name}" for name in FEATURES]
NOW = datetime.now(UTC).replace(microsecond=0)
REDIS_URL = os.environ.get("SHIPYARD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
FEAST_PYTHON = Path(
    os.environ.get(
        "SHIPYARD_FEAST_PYTHON", Path(__file__).resolve().parent.parent / ".venv-feast" / "bin" / "python"
    )
)


def write_source(folder: Path) -> Path:
    rng = np.random.default_rng(3)
    path = folder / "customer_online.parquet"
    columns: dict[str, object] = {
        "customer_id": np.arange(ENTITIES, dtype=np.int64),
        "event_timestamp": pa.array([NOW - timedelta(minutes=5)] * ENTITIES, pa.timestamp("us", tz="UTC")),
    }
    for name, kind in FEATURES.items():
        if kind == "float64":
            columns[name] = rng.standard_normal(ENTITIES)
        elif kind == "int64":
            columns[name] = rng.integers(0, 1_000_000, ENTITIES)
        else:
            columns[name] = rng.choice(["paris", "zürich", "tokyo", "são paulo"], ENTITIES)
    pq.write_table(pa.table(columns), path)
    return path


@contextmanager
def feature_app(online_store: str | None, home: Path, source: Path) -> Iterator[App]:
    app = build_app(load_settings(home=home, online_store=online_store))
    try:
        customer = Entity("customer", {"customer_id": "int64"})
        view = FeatureView(
            "customer_online",
            entities=[customer],
            features=FEATURES,
            source=FileSource("customer_online_src", str(source)),
            ttl=timedelta(days=1),
        )
        app.features.apply([customer, view], actor="bench")
        app.features.online.drop("customer_online.v1")
        app.features.materialize(NOW - timedelta(days=1), NOW)
        yield app
    finally:
        app.features.online.drop("customer_online.v1")
        app.close()


def latencies(call: Callable[[list[dict[str, object]]], object], entities: int, repeat: int) -> list[float]:
    rng = random.Random(1)
    batches = [[{"customer_id": rng.randrange(ENTITIES)} for _ in range(entities)] for _ in range(repeat)]
    for rows in batches[:200]:  # warm up: plan cache, statement cache, connections
        call(rows)
    out = []
    for rows in batches:
        started = time.perf_counter()
        call(rows)
        out.append((time.perf_counter() - started) * 1000)
    return out


def in_process(app: App, entities: int, repeat: int) -> list[float]:
    features = app.features

    def call(rows: list[dict[str, object]]) -> object:
        response = features.get_online_features(REFS, entity_rows=rows)
        assert response.statuses[0]["f0"] == "present"
        return response

    return latencies(call, entities, repeat)


@contextmanager
def serving(app: App) -> Iterator[str]:
    """The app on uvicorn in a thread, bound by uvicorn from host and port as ``shipyard server``
    does (so accepted sockets get TCP_NODELAY, as in production)."""
    import socket
    import threading

    import httpx
    import uvicorn

    from shipyard.server import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(app), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the benchmark server did not start")
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(10)


def over_http(app: App, entities: int, repeat: int) -> list[float]:
    import httpx

    app.accounts.create_user("bench", role="admin")
    token = app.accounts.create_token("bench").secret
    with (
        serving(app) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client,
    ):

        def call(rows: list[dict[str, object]]) -> object:
            reply = client.post("/api/v1/features/online", json={"features": REFS, "entities": rows})
            assert reply.status_code == 200, reply.text
            return reply

        return latencies(call, entities, repeat)


def redis_available() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


def codec_figures() -> list[Result]:
    from shipyard.features.model import Field
    from shipyard.features.online.codec import ValueCodec

    codec = ValueCodec([Field(n, t) for n, t in FEATURES.items()])
    row = {n: (1.25 if t == "float64" else 123456 if t == "int64" else "zürich") for n, t in FEATURES.items()}
    record = codec.encode_columns({n: pa.array([v]) for n, v in row.items()}, 1)[0].as_py()
    text = json.dumps(row).encode()
    out = []
    for label, decode, data in (("value codec", codec.decode, record), ("JSON", json.loads, text)):
        started = time.perf_counter()
        for _ in range(100_000):
            decode(data)
        micros = (time.perf_counter() - started) * 10
        out.append(Result(f"online: decode one 10-feature record, {label} ({len(data)} bytes)", micros, "µs"))
    return out


def feast_figures(source: Path, work: Path, shipyard_p50: float, shipyard_p99: float) -> list[Result]:
    """Feast's SQLite online store on the same file, in ``.venv-feast`` (``make bench-feast``)."""
    if not FEAST_PYTHON.exists():
        return [Result("Feast online comparison: not run (no .venv-feast; make bench-feast)", 0, "ms")]
    script = Path(__file__).resolve().parent / "feast_online.py"
    done = subprocess.run(
        [str(FEAST_PYTHON), str(script), str(work), str(source), str(ENTITIES), "1000"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [Result(f"Feast online comparison failed: {tail[:150]}", 0, "ms")]
    feast = json.loads(done.stdout.strip().splitlines()[-1])
    version = feast["feast"]
    return [
        Result(f"Feast {version} SQLite online store, 1 entity x 10 features p50", feast["p50_1"], "ms"),
        Result(
            f"Feast {version} SQLite online store, 100 entities x 10 features p50", feast["p50_100"], "ms"
        ),
        Result(
            f"Feast {version} SQLite online store, 100 entities x 10 features p99", feast["p99_100"], "ms"
        ),
        Result(
            "Feast / Shipyard 100-entity online read, p50 (want >= 4)",
            feast["p50_100"] / shipyard_p50,
            "x",
            note="higher is better; not a target row",
        ),
        Result(
            "Feast / Shipyard 100-entity online read, p99",
            feast["p99_100"] / shipyard_p99,
            "x",
            note="higher is better; not a target row",
        ),
        Result(f"Feast {version}: materialize the same 100,000 entities", feast["materialize_s"], "s"),
    ]


def summary(name: str, times: list[float], target: float | None) -> list[Result]:
    return [
        Result(f"{name} p50", percentile(times, 50), "ms"),
        Result(f"{name} p99", percentile(times, 99), "ms", target),
    ]


def run() -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-online-") as tmp:
        root = Path(tmp)
        source = write_source(root)
        with feature_app(None, root / "sqlite", source) as app:
            results += summary(
                "online read, SQLite in process, 1 entity x 10 features", in_process(app, 1, 5_000), 0.3
            )
            hundred = in_process(app, 100, 1_000)
            results += summary("online read, SQLite in process, 100 entities x 10 features", hundred, 2.0)
            results += summary(
                "online read over HTTP, SQLite, 1 entity x 10 features", over_http(app, 1, 2_000), 5.0
            )
        if redis_available():
            with feature_app(REDIS_URL, root / "redis", source) as app:
                results += summary(
                    "online read, Redis in process, 1 entity x 10 features", in_process(app, 1, 5_000), 1.0
                )
                results += summary(
                    "online read, Redis in process, 100 entities x 10 features",
                    in_process(app, 100, 1_000),
                    None,
                )
        else:
            results.append(Result(f"online read, Redis: not measured ({REDIS_URL} unreachable)", 0, "ms"))
        results += feast_figures(source, root / "feast", percentile(hundred, 50), percentile(hundred, 99))
    return results + codec_figures()


if __name__ == "__main__":
    for r in run():
        print(f"{r.name}: {r.value:.3f} {r.unit}" + (f" (target {r.target})" if r.target else ""))
