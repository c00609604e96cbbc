"""What may be loaded without the ``trust_pickle`` setting.

Pickle (and cloudpickle, joblib) run arbitrary code while loading, so a package stored in one of
those formats is refused unless the caller trusts it: ``trust_pickle=True`` in the SDK,
``SHIPYARD_TRUST_PICKLE=1`` for a server and CLI.

skops files name every type and function they would construct or reference. Without trust, a
name is accepted only if it resolves to a class or a NumPy ufunc defined in scikit-learn, NumPy or
SciPy, outside their testing and build helpers. Plain functions are refused even there (a
``FunctionTransformer`` calls whatever it holds on the data it transforms), and so is a custom
class inside a pipeline: both need the same explicit trust as a pickle.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from functools import cache

from shipyard.errors import PermissionDenied

TRUSTED_MODULES = frozenset({"sklearn", "numpy", "scipy"})
_EXCLUDED_PARTS = frozenset({"testing", "tests", "distutils", "f2py", "ctypeslib", "_pytesttester"})


def untrusted(names: Iterable[str]) -> list[str]:
    """The dotted names in ``names`` that are not trusted without ``trust_pickle``."""
    return sorted(n for n in names if not _trusted(n))


@cache
def _trusted(name: str) -> bool:
    parts = name.split(".")
    if parts[0] not in TRUSTED_MODULES or _EXCLUDED_PARTS.intersection(parts):
        return False
    target = _resolve(parts)
    if isinstance(target, type):
        return True
    import numpy

    return isinstance(target, numpy.ufunc)


def _resolve(parts: list[str]) -> object:
    """The object a dotted name refers to (importing only inside the trusted packages), or None."""
    for split in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            target = getattr(target, attr, None)
            if target is None:
                return None
        return target
    return None


def refuse_untrusted(format: str, reason: str) -> PermissionDenied:
    """The error for a payload that needs ``trust_pickle`` (raise it)."""
    return PermissionDenied(
        f"refusing to load a model stored as {format!r}: {reason}. Loading it could run arbitrary "
        "code; if you trust where it came from, pass trust_pickle=True "
        "(or set SHIPYARD_TRUST_PICKLE=1 for the server and CLI)",
        field="trust_pickle",
    )
