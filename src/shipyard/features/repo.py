"""Loading definitions from a feature repository: a folder of ``*.py`` files, or one file.

Each file is imported as a top-level module named after it, with its folder on ``sys.path``, so
on-demand functions get an import path (``module:qualname``) that works again later, when the
function is imported at use. Every module-level :class:`Entity`, :class:`FeatureView`,
:class:`OnDemandFeatureView`, :class:`FeatureService` and :class:`RequestSource` is collected;
views referenced by other definitions but not bound to a name are collected too.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from shipyard.errors import InvalidInput
from shipyard.features.model import (
    Definition,
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    RequestSource,
)

_KINDS = (Entity, FeatureView, OnDemandFeatureView, FeatureService, RequestSource)


def load_repo(path: str | Path) -> list[Definition]:
    """The definitions of the feature repository at ``path`` (a folder or a ``.py`` file)."""
    root = Path(path).expanduser().resolve()
    if root.is_dir():
        files = sorted(p for p in root.glob("*.py") if not p.name.startswith("_"))
        folder = root
    elif root.is_file() and root.suffix == ".py":
        files, folder = [root], root.parent
    else:
        raise InvalidInput(f"feature repository {str(path)!r} is not a folder or a .py file", field="repo")
    if not files:
        raise InvalidInput(f"feature repository {str(path)!r} holds no .py files", field="repo")
    # Appended, not prepended: a repo file called json.py must not shadow the standard library
    # (nor leak into processes spawned later); removed again when the repo does not load.
    added = str(folder) not in sys.path
    if added:
        sys.path.append(str(folder))
    found: list[Definition] = []
    try:
        for file in files:
            found.extend(_definitions_of(file))
    except BaseException:
        if added:
            sys.path.remove(str(folder))
        raise
    return _unique(found)


def _definitions_of(file: Path) -> list[Definition]:
    name = file.stem
    # A re-load (plan, then apply, in one process) must see edits made in between.
    existing = sys.modules.get(name)
    if existing is not None and getattr(existing, "__file__", None) != str(file):
        raise InvalidInput(
            f"feature repository file {file.name!r}: module name {name!r} is already taken by "
            f"{getattr(existing, '__file__', None) or 'a built-in module'}; rename the file",
            field="repo",
        )
    try:
        module = importlib.reload(existing) if existing is not None else importlib.import_module(name)
    except Exception as exc:  # user code: any failure is reported with the file name
        raise InvalidInput(
            f"feature repository file {file.name!r} failed to load: {type(exc).__name__}: {exc}", field="repo"
        ) from None
    if getattr(module, "__file__", None) != str(file):  # an installed module of the same name won
        raise InvalidInput(
            f"feature repository file {file.name!r}: module name {name!r} is already taken by "
            f"{getattr(module, '__file__', None) or 'a built-in module'}; rename the file",
            field="repo",
        )
    return [value for value in vars(module).values() if isinstance(value, _KINDS)]


def _unique(definitions: list[Definition]) -> list[Definition]:
    """Drop repeated objects (one definition imported by two files); add views referenced only
    through on-demand views. Equal names with different contents are left for the planner."""
    out: list[Definition] = []
    seen: set[int] = set()
    for d in definitions:
        extra: list[Definition] = [d]
        if isinstance(d, OnDemandFeatureView):
            extra += [s for s in d.sources if isinstance(s, FeatureView | RequestSource)]
        for item in extra:
            if id(item) in seen or any(o == item for o in out):
                continue
            seen.add(id(item))
            out.append(item)
    return out
