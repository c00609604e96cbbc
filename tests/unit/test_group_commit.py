"""Group commit of metric writes: batches of concurrent callers share one transaction, each caller
is answered once its points are committed, and one caller's refused batch never costs another's."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from shipyard.app import App
from shipyard.errors import InvalidInput, NotFound
from shipyard.tracking.group_commit import MetricGroupCommit

NOW = 1_700_000_000_000


def _points(key: str, n: int) -> list[tuple[str, float, int, int]]:
    return [(key, float(i), i, NOW + i) for i in range(n)]


def _stored(app: App, run_id: str, key: str) -> int:
    return len(app.tracking.metric_history(run_id, key))


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


class _Held:
    """Holds the first group's transaction open until released, so the next group gathers."""

    def __init__(self, writes: MetricGroupCommit, fail_first: bool = False) -> None:
        self.release = threading.Event()
        self.calls = 0
        original = writes.tracking.store_metric_batches

        def store(*args: Any, **kwargs: Any) -> int:
            self.calls += 1
            if self.calls == 1:
                self.release.wait(10)
                if fail_first:  # what a deadlock between server processes does to a group
                    raise OperationalError("INSERT", {}, Exception("deadlock detected"))
            return original(*args, **kwargs)

        writes.tracking.store_metric_batches = store  # type: ignore[method-assign]


def _call(results: dict[str, object], name: str, fn: Callable[[], int]) -> threading.Thread:
    def target() -> None:
        try:
            results[name] = fn()
        except Exception as exc:
            results[name] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def test_concurrent_batches_share_a_transaction_and_a_refused_one_costs_no_other(app: App) -> None:
    writes = MetricGroupCommit(app.tracking)
    app.tracking.create_experiment("group")
    runs = [app.tracking.create_run("group", name=f"r{i}").id for i in range(6)]
    held = _Held(writes)
    results: dict[str, object] = {}
    threads = [_call(results, "first", lambda: writes.log_metrics(runs[0], _points("loss", 1)))]
    _wait_until(lambda: held.calls == 1)  # the first group is in its transaction
    for i in range(1, 6):
        threads.append(
            _call(results, f"good{i}", lambda i=i: writes.log_metrics(runs[i], _points("loss", 100)))
        )
    threads.append(_call(results, "unknown-run", lambda: writes.log_metrics("0" * 32, _points("loss", 3))))
    _wait_until(lambda: len(writes._pending) == 6)  # everyone waits for the next group
    with pytest.raises(InvalidInput, match="value"):  # refused before joining any group
        writes.log_metrics(runs[1], [("loss", "high", 1, NOW)])  # type: ignore[list-item]
    held.release.set()
    for thread in threads:
        thread.join(20)
    assert results["first"] == 1
    assert all(results[f"good{i}"] == 100 for i in range(1, 6))
    assert isinstance(results["unknown-run"], NotFound)
    assert writes.groups == 2  # the first call alone, then the six others together
    assert all(_stored(app, runs[i], "loss") == 100 for i in range(1, 6))


def test_a_failed_group_is_retried_batch_by_batch(app: App) -> None:
    writes = MetricGroupCommit(app.tracking)
    app.tracking.create_experiment("group")
    runs = [app.tracking.create_run("group", name=f"r{i}").id for i in range(3)]
    held = _Held(writes, fail_first=True)
    results: dict[str, object] = {}
    threads = [
        _call(results, name, lambda r=r: writes.log_metrics(r, _points("acc", 10), batch_id=f"b-{r}"))
        for name, r in zip("abc", runs, strict=True)
    ]
    _wait_until(lambda: held.calls == 1)
    held.release.set()
    for thread in threads:
        thread.join(20)
    assert results == {"a": 10, "b": 10, "c": 10}
    assert writes.retried >= 1
    assert all(_stored(app, r, "acc") == 10 for r in runs)  # nothing twice, nothing lost


def test_a_retried_batch_id_stores_nothing_twice(app: App) -> None:
    writes = MetricGroupCommit(app.tracking)
    app.tracking.create_experiment("group")
    run = app.tracking.create_run("group").id
    assert writes.log_metrics(run, _points("x", 5), batch_id="once") == 5
    assert writes.log_metrics(run, _points("x", 5), batch_id="once") == 0
    assert _stored(app, run, "x") == 5


def test_writers_keep_running_under_load_instead_of_restarting(app: App) -> None:
    """A writer woken for batches that the other writer took meanwhile waits again: under steady
    load the same two writer threads take every group (none stops and is started anew)."""
    writes = MetricGroupCommit(app.tracking, writers=2)
    app.tracking.create_experiment("group")
    runs = [app.tracking.create_run("group").id for _ in range(4)]
    writers: set[threading.Thread] = set()
    original = writes.tracking.store_metric_batches

    def store(*args: Any, **kwargs: Any) -> Any:
        writers.add(threading.current_thread())
        return original(*args, **kwargs)

    writes.tracking.store_metric_batches = store  # type: ignore[method-assign]

    def client(run_id: str) -> None:
        for i in range(100):
            writes.log_metrics(run_id, [("x", 1.0, i, NOW)])

    clients = [threading.Thread(target=client, args=(r,)) for r in runs]
    for t in clients:
        t.start()
    for t in clients:
        t.join(60)
    assert all(_stored(app, r, "x") == 100 for r in runs)
    assert len(writers) <= 2
