"""The examples in docs/drift.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "drift.md"


def test_drift_page_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.DOTALL)
    assert blocks
    namespace: dict[str, object] = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"drift.md[{i}]", "exec"), namespace)
