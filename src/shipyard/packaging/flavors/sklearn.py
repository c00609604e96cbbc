"""scikit-learn estimators and pipelines, stored with skops (no pickle).

skops records every type it would construct; types from scikit-learn, NumPy and SciPy are trusted
automatically, anything else (a custom transformer in a pipeline) needs ``trust_pickle``.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.packaging.flavors.base import Payload, Predictor, as_array, from_library, version_of
from shipyard.packaging.trust import refuse_untrusted, untrusted

ENTRY = "model.skops"


@dataclass(frozen=True)
class SklearnPredictor:
    raw: object

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return as_array(self.raw.predict(frame))  # type: ignore[attr-defined]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        try:
            method = self.raw.predict_proba  # type: ignore[attr-defined]
        except AttributeError:  # regressors; pipelines whose last step has none
            return None
        return as_array(method(frame))


class SklearnFlavor:
    name = "sklearn"
    priority = 30

    def matches(self, model: object) -> bool:
        return from_library(model, "sklearn") and hasattr(model, "predict")

    def save(self, model: object) -> Payload:
        import skops.io

        return Payload(
            format="skops",
            entries={ENTRY: canonical_skops(skops.io.dumps(model))},
            library_versions={"scikit-learn": version_of("scikit-learn"), "skops": version_of("skops")},
        )

    def load(self, format: str, entries: Mapping[str, bytes], *, trust_pickle: bool) -> Predictor:
        import skops.io

        if format != "skops" or ENTRY not in entries:
            raise InvalidInput(
                f"sklearn packages hold {ENTRY} in skops format, not {format!r}", field="format"
            )
        data = entries[ENTRY]
        needed = list(skops.io.get_untrusted_types(data=data))
        refused = untrusted(needed)
        if refused and not trust_pickle:
            raise refuse_untrusted("skops", f"it contains types outside scikit-learn/NumPy/SciPy: {refused}")
        return SklearnPredictor(skops.io.loads(data, trusted=needed))


def canonical_skops(data: bytes) -> bytes:
    """``data`` (a skops file) with object ids and array file names numbered in schema order and
    fixed zip timestamps, so one model dumped twice gives the same bytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(files.pop("schema.json"))
    ids: dict[object, int] = {}
    names: dict[str, str] = {}

    def renumber(node: object) -> None:
        if isinstance(node, dict):
            if "__loader__" in node:
                if isinstance(node.get("__id__"), int):
                    node["__id__"] = ids.setdefault(node["__id__"], len(ids) + 1)
                name = node.get("file")
                if isinstance(name, str) and name in files:
                    suffix = name.rpartition(".")[2]
                    node["file"] = names.setdefault(name, f"{len(names) + 1}.{suffix}")
            for value in node.values():
                renumber(value)
        elif isinstance(node, list):
            for value in node:
                renumber(value)

    renumber(schema)
    out = {names.get(name, name): content for name, content in files.items()}
    out["schema.json"] = json.dumps(schema, indent=2).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(out):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, out[name])
    return buffer.getvalue()
