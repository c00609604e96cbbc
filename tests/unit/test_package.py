"""The public surface is what ``__all__`` says, and importing Shipyard does nothing else."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import shipyard

SRC = Path(shipyard.__file__).parent


def test_all_names_exist_and_nothing_public_is_unlisted() -> None:
    for name in shipyard.__all__:
        assert hasattr(shipyard, name), name
    public = {n for n in vars(shipyard) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(shipyard, n)).__name__ == "module"}
    assert public - modules <= set(shipyard.__all__)


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    code = (
        "import os, sys, shipyard; "
        "assert not os.path.exists('.shipyard'), 'created state'; "
        "heavy = {'sqlalchemy', 'pandas', 'numpy', 'httpx'} & set(sys.modules); "
        "assert not heavy, f'importing shipyard loaded {heavy}'; "
        "from shipyard.client import fluent; assert fluent._client is None"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, timeout=60)
    assert not (tmp_path / ".shipyard").exists()


def test_importing_the_packaging_layer_loads_no_numerical_library() -> None:
    code = (
        "import sys, shipyard.packaging as p; "
        "assert not {'numpy', 'pandas', 'sklearn'} & set(sys.modules); "
        "assert p.Signature.__module__ == 'shipyard.packaging.signature'; "
        "assert 'pandas' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_nothing_inside_the_package_imports_its_root() -> None:
    pattern = re.compile(r"^\s*(from shipyard import|import shipyard\s*$)", re.MULTILINE)
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if p.name != "__init__.py" or p.parent != SRC
        if pattern.search(p.read_text())
    ]
    assert offenders == []
