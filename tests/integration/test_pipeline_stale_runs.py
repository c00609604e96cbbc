"""A process executing a pipeline run is SIGKILLed: the scheduler's tick fails the run once its
heartbeat is older than the lease, and leaves a live run with one long step alone."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shipyard.app import build_app
from shipyard.config import load_settings
from shipyard.pipelines.model import RunState
from support.databases import seed_embedded_home
from support.waiting import wait_until

SCRIPT = Path(__file__).resolve().parents[1] / "support" / "pipeline_process.py"


@pytest.mark.slow
def test_the_scheduler_abandons_the_runs_of_a_killed_process(tmp_path: Path) -> None:
    home, artifacts = seed_embedded_home(tmp_path / "home"), str(tmp_path / "artifacts")
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(home), artifacts, "0.2"], stdout=subprocess.PIPE, text=True
    )
    app = build_app(load_settings(home=home, artifacts=artifacts))
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        assert run_id, "the pipeline process printed no run id"
        wait_until(lambda: app.pipelines.get_run(run_id).state is RunState.RUNNING, timeout=60)
        sched = app.scheduler()
        sched.stale_after_s, sched.sweep_every_s = 1.5, 0.0
        time.sleep(2.5)  # longer than the lease since the step started: only heartbeats show life
        assert sched.tick().abandoned == []
        assert app.pipelines.get_run(run_id).state is RunState.RUNNING

        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert app.pipelines.get_run(run_id).state is RunState.RUNNING  # nobody said otherwise
        assert app.pipelines.active_runs("t1") == 1
        time.sleep(2.0)
        sched.sweep_every_s = 3600.0  # swept a moment ago: not yet again
        assert sched.tick().abandoned == []
        sched.sweep_every_s = 0.0
        assert sched.tick().abandoned == [run_id]
        run = app.pipelines.get_run(run_id)
        assert run.state is RunState.FAILED and "abandoned" in (run.error or "")
        assert app.pipelines.active_runs("t1") == 0
        assert sched.tick().abandoned == []  # once
        finished = app.events.list(types=["pipeline.finished"], where={"run_id": run_id})
        assert [e.payload["status"] for e in finished] == ["FAILED"]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        app.close()
