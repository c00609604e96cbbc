"""The worker supervisor of ``shipyard serve --workers N``, with small Python scripts as workers: a
worker that cannot start stops the server with its reason, a worker that dies later is restarted, a
stop signal stops every worker, and one that ignores it is killed after the grace period."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from shipyard.serving.runtime.workers import Supervisor

# A worker: counts its starts in RUNS/<index>, tells the supervisor it is ready (unless it is the
# failing one), marks RUNS/<index>.ready, then does what BEHAVIOUR says.
WORKER = """
import os, signal, sys, time
index, behaviour, runs = os.environ["SHIPYARD_WORKER_INDEX"], os.environ["BEHAVIOUR"], os.environ["RUNS"]
with open(os.path.join(runs, index), "a") as f:
    f.write("x")
started = len(open(os.path.join(runs, index)).read())
if behaviour == "fail-2" and index == "2":
    sys.exit(3)
if behaviour == "deaf-1" and index == "1":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
os.write(int(os.environ["SHIPYARD_WORKER_READY_FD"]), b"+")
open(os.path.join(runs, index + ".ready"), "w").close()
if behaviour == "crash-1-once" and index == "1" and started == 1:
    while not os.path.exists(os.path.join(runs, "2.ready")):
        time.sleep(0.01)
    os._exit(7)
time.sleep(120)
"""


def _supervisor(tmp_path: Path, behaviour: str, grace: float = 60.0) -> tuple[Supervisor, list[str]]:
    reports: list[str] = []
    env = {**os.environ, "RUNS": str(tmp_path), "BEHAVIOUR": behaviour}
    supervisor = Supervisor([sys.executable, "-c", WORKER], 2, env=env, grace=grace, report=reports.append)
    return supervisor, reports


def _starts(tmp_path: Path, index: int) -> int:
    path = tmp_path / str(index)
    return len(path.read_text()) if path.exists() else 0


def _sigterm_when(condition: object, timeout: float = 60) -> None:
    """SIGTERM to this process (the supervisor's handler takes it) once ``condition()`` holds."""

    def wait() -> None:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=wait, daemon=True).start()


def test_a_worker_that_cannot_start_stops_the_others_and_says_why(tmp_path: Path) -> None:
    supervisor, _ = _supervisor(tmp_path, "fail-2")
    outcome = supervisor.run()
    assert outcome.failure is not None and outcome.failure.startswith("worker 2 (pid ")
    assert outcome.failure.endswith("exited with status 3 while starting")
    assert outcome.messages == [] and outcome.signal is None  # worker 1 stopped cleanly on SIGTERM
    assert _starts(tmp_path, 2) == 1  # not restarted
    assert all(w.proc is None for w in supervisor.workers)


def test_a_worker_that_dies_is_restarted_and_sigterm_stops_them_all(tmp_path: Path) -> None:
    supervisor, reports = _supervisor(tmp_path, "crash-1-once")
    _sigterm_when(lambda: _starts(tmp_path, 1) == 2 and all(w.ready for w in supervisor.workers))
    outcome = supervisor.run()
    assert outcome.signal == signal.SIGTERM and outcome.failure is None and outcome.messages == []
    assert _starts(tmp_path, 1) == 2 and _starts(tmp_path, 2) == 1
    assert len(reports) == 1 and reports[0].endswith("exited with status 7; restarting it")
    assert all(w.proc is None for w in supervisor.workers)


def test_a_worker_deaf_to_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    supervisor, _ = _supervisor(tmp_path, "deaf-1", grace=0.5)
    _sigterm_when(lambda: supervisor.started)
    outcome = supervisor.run()
    assert outcome.signal == signal.SIGTERM and outcome.failure is None
    assert len(outcome.messages) == 1 and outcome.messages[0].startswith("worker 1 (pid ")
    assert outcome.messages[0].endswith("did not stop within 0.5 s: killed")
