"""Stream scoring on a real Redis: every input scored exactly once into the output, bad entries
dead-lettered, and a consumer killed with SIGKILL mid-batch leaves nothing unscored and nothing
scored twice once another consumer claims its pending entries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from prometheus_client import generate_latest

from shipyard.app import build_app
from shipyard.config import load_settings
from shipyard.serving.stream import StreamScorer, stream_metrics
from support.databases import new_redis_prefix, redis_server_url
from support.registry_models import register
from support.serving import rows


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    url = redis_server_url()
    client = redis.Redis.from_url(url)
    yield client
    client.close()


@pytest.fixture
def streams(client: redis.Redis) -> Iterator[tuple[str, str]]:
    prefix = new_redis_prefix()
    yield f"{prefix}:in", f"{prefix}:out"
    keys = list(client.scan_iter(match=f"{prefix}:*", count=10_000))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("stream")
    app = build_app(load_settings(home=tmp / "home"))
    version = register(app, tmp)
    app.registry.set_alias("churn", "champion", version.version, actor="alice")
    app.close()
    yield tmp / "home"


def _produce(client: redis.Redis, stream: str, n: int) -> list[str]:
    data = rows(50)
    pipe = client.pipeline()
    for i in range(n):
        pipe.xadd(stream, {"data": json.dumps(data[i % 50])})
    return [i.decode() for i in pipe.execute()]


def _outputs(client: redis.Redis, stream: str) -> list[str]:
    return [fields[b"input_id"].decode() for _, fields in client.xrange(stream)]


def test_every_entry_is_scored_once_and_bad_ones_are_dead_lettered(
    client: redis.Redis, streams: tuple[str, str], home: Path
) -> None:
    source, out = streams
    app = build_app(load_settings(home=home))
    model = app.registry.load("churn@champion")
    app.close()
    ids = _produce(client, source, 120)
    bad = [
        client.xadd(source, {"data": "{not json"}).decode(),
        client.xadd(source, {"data": json.dumps({"contract": 3})}).decode(),
    ]
    scorer = StreamScorer(client, model, "churn", 1, source, out, "scorers", "c1", batch=25, block_ms=50)
    stats = scorer.run(idle_exit=True)
    assert sorted(_outputs(client, out)) == sorted(ids)
    assert stats.scored == 120 and stats.dead == 2 and stats.pending == 0 and stats.lag == 0
    dead = client.xrange(f"{source}:dead")
    assert [f[b"input_id"].decode() for _, f in dead] == bad
    assert b"monthly_charges" in dead[1][1][b"error"] or b"contract" in dead[1][1][b"error"]
    first = json.loads(client.xrange(out, count=1)[0][1][b"data"])
    assert first["prediction"] in (0, 1)
    # A redelivery (the same entries read again, e.g. after a crash before XACK) writes nothing new.
    client.xgroup_setid(source, "scorers", "0")
    again = StreamScorer(client, model, "churn", 1, source, out, "scorers", "c2", batch=50, block_ms=50)
    again.run(idle_exit=True)
    assert len(_outputs(client, out)) == 120 and again.stats.duplicates == 120
    text = generate_latest(stream_metrics(again.stats, source)).decode()
    assert "shipyard_stream_lag" in text and "shipyard_stream_duplicates_total" in text


def test_sigkill_mid_batch_then_restart_scores_every_input_exactly_once(
    client: redis.Redis, streams: tuple[str, str], home: Path
) -> None:
    source, out = streams
    ids = _produce(client, source, 600)
    url = redis_server_url()
    env = {**os.environ, "SHIPYARD_HOME": str(home)}
    command = [
        sys.executable, "-m", "shipyard.cli.main", "stream", "--model", "churn@champion",
        "--input-stream", source, "--output-stream", out, "--group", "g", "--redis-url", url, "--batch", "20",
    ]  # fmt: skip
    first = subprocess.Popen([*command, "--consumer", "doomed"], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while client.xlen(out) < 100:
        assert first.poll() is None, first.stderr.read() if first.stderr else ""
        assert time.monotonic() < deadline, "the first consumer scored nothing"
        time.sleep(0.005)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert client.xlen(out) < 600  # killed before the end
    second = subprocess.run(
        [*command, "--consumer", "heir", "--claim-idle-ms", "300", "--until-idle"],
        env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    scored = _outputs(client, out)
    assert sorted(scored) == sorted(ids), "every input scored, none twice"
    pending = client.xpending(source, "g")
    assert pending["pending"] == 0
