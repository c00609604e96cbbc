"""ActiveRun conveniences: text and dictionaries become artifacts without temporary files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from shipyard.client import Client
from shipyard.config import load_settings
from shipyard.errors import InvalidInput


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    c = Client(load_settings(home=tmp_path / "home"))
    yield c
    c.close()


def test_text_and_dict_become_artifacts(client: Client, tmp_path: Path) -> None:
    with client.start_run("helpers") as run:
        run.log_text("# Summary\nAUC went up.", "reports/summary.md")
        run.log_dict({"threshold": np.float64(0.3), "classes": np.array([0, 1]), "b": 1}, "config.json")
    paths = [a.path for a in client.tracking.list_artifacts(run.id)]
    assert paths == ["config.json", "reports/summary.md"]
    text = client.tracking.download_artifact(run.id, "reports/summary.md", tmp_path / "s.md").read_text()
    assert text == "# Summary\nAUC went up."
    config = json.loads(
        client.tracking.download_artifact(run.id, "config.json", tmp_path / "c.json").read_text()
    )
    assert config == {"b": 1, "classes": [0, 1], "threshold": 0.3}


def test_bad_inputs_are_refused(client: Client) -> None:
    with client.start_run("helpers") as run:
        with pytest.raises(InvalidInput, match="JSON"):
            run.log_dict({"f": object()}, "x.json")
        with pytest.raises(InvalidInput, match="escapes"):
            run.log_text("x", "../x.txt")
        with pytest.raises(InvalidInput, match="string"):
            run.log_text(b"bytes", "x.txt")  # type: ignore[arg-type]
    assert client.tracking.list_artifacts(run.id) == []
