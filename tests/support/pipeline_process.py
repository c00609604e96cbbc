"""A process executing one pipeline run, for the crash tests: ``python pipeline_process.py HOME
ARTIFACTS HEARTBEAT_S``. It submits ``sleeping`` (one step of a minute), prints the run id, and
waits for the run: the test kills it meanwhile."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shipyard.app import build_app
from shipyard.config import load_settings
from support import pipeline_defs as defs


def main() -> None:
    home, artifacts, heartbeat_s = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    app = build_app(load_settings(home=home, artifacts=artifacts))
    app.pipelines.heartbeat_s = heartbeat_s
    app.pipelines.apply(defs.sleeping, actor="ann")
    run_id = app.pipelines.submit("sleeping", {"seconds": 60.0}, started_by="ann", trigger_id="t1")
    print(run_id, flush=True)
    app.pipelines.wait(run_id)


if __name__ == "__main__":
    main()
