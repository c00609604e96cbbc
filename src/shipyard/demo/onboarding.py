"""What a newcomer needs around the demo: a clean folder, a ``shipyard`` their shell can find, a
viewer user to open the web UI with, and an evaluation file the printed gate command can use."""

from __future__ import annotations

import contextlib
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.errors import AlreadyExists, NotFound

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.client import Client

#: The read-only user the demo creates for the web UI.
VIEWER = "demo-viewer"
#: The demo's own folders inside its ``--dir``, removed before a re-run there.
DEMO_STORE = ".shipyard"
DEMO_DATA = "data"
#: Where the demo leaves its validation rows, for ``shipyard models gates --data``.
EVALUATION_FILE = "data/evaluation.parquet"


def shell_setup() -> str | None:
    """The line that puts the running ``shipyard`` on a plain shell's PATH, or None when the
    shell already finds this very program (e.g. the virtual environment is active)."""
    bin_dir = Path(sys.executable).parent
    found = shutil.which("shipyard")
    if found is not None and Path(found).resolve().parent == bin_dir.resolve():
        return None
    activate = bin_dir / "activate"
    if activate.is_file():
        return f". {shlex.quote(str(activate))}"
    return f'export PATH={shlex.quote(str(bin_dir))}:"$PATH"'


def start_clean(workdir: Path) -> list[Path]:
    """Remove an earlier demo's own store and data from ``workdir``; returns what was removed."""
    removed = []
    for name in (DEMO_STORE, DEMO_DATA):
        path = workdir / name
        if path.is_dir():
            shutil.rmtree(path)
            removed.append(path)
    for card in workdir.glob("model-card-*"):
        card.unlink()
        removed.append(card)
    return removed


def existing_runs(client: Client, experiment: str) -> int:
    """How many runs an earlier demo (or anyone) left in ``experiment`` of a configured store."""
    try:
        client.tracking.get_experiment(experiment)
    except NotFound:
        return 0
    return len(client.tracking.search_runs([experiment], max_results=10_000))


def ensure_viewer(client: Client) -> str:
    """The demo's viewer user, created with the global ``viewer`` role unless it exists."""
    with contextlib.suppress(AlreadyExists):
        client.accounts.create_user(VIEWER, role="viewer", actor=client.user)
    return VIEWER


def save_evaluation(frame: pd.DataFrame, workdir: Path) -> Path:
    path = workdir / EVALUATION_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path
