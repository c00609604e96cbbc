"""The Python examples in the docs run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import shipyard
from support.cli import isolate

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


@pytest.mark.parametrize(
    ("page", "defines"),
    [
        ("tracking.md", ()),
        ("models-packaging.md", ()),
        ("features.md", ("dataset",)),
        ("registry.md", ()),
        ("deployments.md", ()),
        ("events.md", ()),
        ("monitoring.md", ()),
    ],
)
def test_examples_run(
    page: str, defines: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each page's ``python`` blocks run in order in one namespace, on a fresh embedded Shipyard."""
    isolate(monkeypatch, tmp_path, home=tmp_path / ".shipyard", width=None)
    shipyard.set_client(None)
    namespace: dict[str, object] = {}
    try:
        for i, block in enumerate(BLOCK.findall((DOCS / page).read_text())):
            exec(compile(block, f"{page}[{i}]", "exec"), namespace)
    finally:
        shipyard.get_client().close()
        shipyard.set_client(None)
    for name in defines:
        assert namespace[name] is not None, f"{page} should define {name}"
