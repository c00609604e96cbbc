"""The Python examples in the docs run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import shipyard

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


@pytest.mark.parametrize("page", ["tracking.md", "models-packaging.md"])
def test_examples_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / ".shipyard"))
    for name in ("SHIPYARD_URL", "SHIPYARD_TOKEN", "SHIPYARD_DB_URL", "SHIPYARD_ARTIFACTS"):
        monkeypatch.delenv(name, raising=False)
    shipyard.set_client(None)
    namespace: dict[str, object] = {}
    try:
        for i, block in enumerate(BLOCK.findall((DOCS / page).read_text())):
            exec(compile(block, f"{page}[{i}]", "exec"), namespace)
    finally:
        shipyard.get_client().close()
        shipyard.set_client(None)
