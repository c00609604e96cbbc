"""The SDK buffers metric points and flushes them by size, interval, run end, exception and exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from shipyard.client import Client
from shipyard.client import buffer as buffer_module
from shipyard.client.buffer import MAX_SEALED, MetricBuffer
from shipyard.config import load_settings
from shipyard.tracking.model import RunStatus
from support.waiting import wait_until


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    c = Client(load_settings(home=tmp_path, metric_flush_size=10, metric_flush_interval=0.2))
    yield c
    c.close()


def stored(client: Client, run_id: str, key: str = "loss") -> int:
    return len(client.tracking.metric_history(run_id, key))


def test_full_batches_are_sent_in_the_background_without_waiting_for_the_interval(tmp_path: Path) -> None:
    client = Client(load_settings(home=tmp_path, metric_flush_size=10, metric_flush_interval=60))
    run = client.start_run("buf")
    for i in range(25):
        run.log_metric("loss", float(i), step=i)
    wait_until(lambda: stored(client, run.id) == 20, timeout=10)  # the interval is a minute
    run.end()
    assert [p.step for p in client.tracking.metric_history(run.id, "loss")] == list(range(25))
    client.close()


def test_a_caller_faster_than_the_store_waits_for_it_with_few_batches_held() -> None:
    sent: list[list[int]] = []
    release = threading.Event()
    held: list[int] = []

    def slow_sink(points: list[tuple[str, float, int, int]], batch_id: str) -> None:
        release.wait(10)  # the store is stuck until the caller has filled the backlog
        sent.append([p[2] for p in points])

    buffer = MetricBuffer(slow_sink, flush_size=10, flush_interval=60)
    logger = threading.Thread(target=lambda: [buffer.add(("loss", 0.0, i, 0)) for i in range(200)])
    logger.start()
    wait_until(lambda: len(buffer) >= (MAX_SEALED + 1) * 10, timeout=10)
    held.append(len(buffer))
    release.set()
    logger.join(10)
    buffer.close()
    assert held[0] <= (MAX_SEALED + 2) * 10  # the caller stopped to send, instead of growing memory
    assert [s for batch in sent for s in batch] == list(range(200))  # every point, once, in order


def test_interval_flushes_a_partial_buffer(client: Client) -> None:
    run = client.start_run("buf")
    for i in range(3):
        run.log_metric("loss", float(i), step=i)
    deadline = time.monotonic() + 5
    while stored(client, run.id) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stored(client, run.id) == 3
    run.end()


def test_exception_in_run_flushes_everything_and_marks_failed(client: Client) -> None:
    with pytest.raises(RuntimeError), client.start_run("buf") as run:
        for i in range(17):
            run.log_metric("loss", float(i), step=i)
        raise RuntimeError("diverged")
    assert stored(client, run.id) == 17
    assert client.tracking.get_run(run.id).status is RunStatus.FAILED


def test_failed_flush_keeps_points_and_retries_without_duplicates() -> None:
    received: dict[str, list[object]] = {}
    attempts = []

    def flaky(points: list[object], batch_id: str) -> None:
        attempts.append(batch_id)
        if len(attempts) == 1:
            raise ConnectionError("server away")
        received.setdefault(batch_id, list(points))

    buffer = MetricBuffer(flaky, flush_size=1000, flush_interval=60)
    for i in range(5):
        buffer.add(("loss", float(i), i, 0))
    with pytest.raises(ConnectionError):
        buffer.flush()
    assert len(buffer) == 5
    buffer.add(("loss", 5.0, 5, 0))
    buffer.flush()
    assert attempts[0] == attempts[1]  # the failed batch is retried under its own id
    assert sum(len(p) for p in received.values()) == 6 and len(buffer) == 0


SCRIPT = """
import shipyard, sys
from shipyard import Client, load_settings
shipyard.set_client(Client(load_settings(home=sys.argv[1], metric_flush_interval=3600)))
run = shipyard.start_run(experiment="exit")
print(run.id, flush=True)
for i in range(1234):
    run.log_metric("loss", i / 7, step=i)
if sys.argv[2] == "crash":
    raise RuntimeError("boom")
"""


@pytest.mark.parametrize(("mode", "status"), [("ok", RunStatus.FINISHED), ("crash", RunStatus.FAILED)])
def test_process_exit_flushes_and_ends_open_runs(tmp_path: Path, mode: str, status: RunStatus) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), str(tmp_path), mode],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode == 0) == (mode == "ok"), done.stderr
    run_id = done.stdout.split()[0]
    client = Client(load_settings(home=tmp_path))
    assert stored(client, run_id) == 1234
    assert client.tracking.get_run(run_id).status is status
    client.close()


def test_bad_metric_fails_at_the_call_not_at_flush(client: Client) -> None:
    from shipyard.errors import InvalidInput

    with client.start_run("buf") as run:
        with pytest.raises(InvalidInput, match="'acc'"):
            run.log_metric("acc", "0.9")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="step"):
            run.log_metric("acc", 0.9, step="one")  # type: ignore[arg-type]
        run.log_metric("acc", 0.9)
    assert client.tracking.get_run(run.id).metrics["acc"].value == 0.9


def test_the_last_batch_travels_with_the_end_and_survives_a_failed_end(client: Client) -> None:
    run = client.start_run("buf", params={"lr": 0.1})
    for i in range(15):  # one full batch of 10, then 5 left for the end
        run.log_metric("loss", float(i), step=i)
    calls: list[tuple[int, str | None]] = []
    real_end = client.tracking.end_run
    failures = [RuntimeError("the store is away")]

    def end_run(run_id: str, status: RunStatus = RunStatus.FINISHED, **kw: object) -> object:
        points, batch_id = kw.get("points", ()), kw.get("batch_id")
        calls.append((len(points), batch_id))  # type: ignore[arg-type]
        if failures:
            raise failures.pop()
        return real_end(run_id, status, **kw)  # type: ignore[arg-type]

    client.tracking.end_run = end_run  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="away"):
        run.end()
    assert stored(client, run.id) == 10  # the full batch went first; the rest waits
    assert not run.ended
    ended = run.end()  # the same last batch, under the same id
    assert ended.status is RunStatus.FINISHED and ended.params == {"lr": "0.1"}
    assert calls[0] == calls[1] and calls[0][0] == 5
    assert [p.step for p in client.tracking.metric_history(run.id, "loss")] == list(range(15))


def test_two_senders_store_batches_side_by_side_and_a_failed_one_is_retried_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With ``senders=2`` two batches are in the store at once; when one of them fails, the one
    that was stored is not sent again, and the failed one is retried under its own id."""
    idle = SimpleNamespace(watch=lambda buffer: None, unwatch=lambda buffer: None)
    monkeypatch.setattr(buffer_module, "_ticker", idle)  # this test drives every flush itself
    both_in = threading.Barrier(2, timeout=10)
    received: dict[str, list[int]] = {}
    attempts: list[str] = []
    lock = threading.Lock()

    def sink(points: list[tuple[str, float, int, int]], batch_id: str) -> None:
        with lock:
            attempts.append(batch_id)
            first_round = len(attempts) <= 2
        if first_round:
            both_in.wait()  # fails (BrokenBarrierError) unless the two batches are sent together
            if points[0][2] == 10:
                raise ConnectionError("server away")
        with lock:
            received[batch_id] = [p[2] for p in points]

    buffer = MetricBuffer(sink, flush_size=10, flush_interval=60, senders=2)
    for i in range(20):
        buffer.add(("loss", 0.0, i, 0))
    with pytest.raises(ConnectionError):
        buffer.flush()
    assert len(buffer) == 10  # the stored batch is forgotten, the failed one kept
    buffer.flush()
    assert len(attempts) == 3 and attempts[2] in attempts[:2]  # retried under its own id
    assert sorted(s for steps in received.values() for s in steps) == list(range(20))
