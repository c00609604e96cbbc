"""How step outputs are stored, by type: Parquet for tables (pandas, Arrow), the model package for
models, JSON for small values, pickle only for steps declared ``@step(pickle=True)``.

Encoding happens where the run is driven, so every executor stores the same bytes and digests.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

#: Largest JSON output; bigger values belong in a table.
MAX_JSON_BYTES = 16 * 1024 * 1024

PANDAS, ARROW, MODEL, JSON, PICKLE = "pandas", "arrow", "model", "json", "pickle"


@dataclass
class Model:
    """A trained model as a step output: stored with the model package format (flavor detected from
    its type), so the registry can register it from the step run (artifact path ``output``)."""

    model: Any
    input_example: pd.DataFrame
    flavor: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)


class ModelPackager(Protocol):
    """Model packaging (the package format's ``build_package`` / ``load_model``), wired in by the app."""

    def pack(self, model: object, input_example: pd.DataFrame, flavor: str | None) -> bytes: ...

    def unpack(self, data: bytes) -> tuple[object, pd.DataFrame, str]:
        """The raw model, its input example and flavor."""
        ...


def encode(value: object, *, step: str, pickle_ok: bool, packager: ModelPackager | None) -> tuple[str, bytes]:
    """``(kind, bytes)`` of a step's output; InvalidInput naming the step when it cannot be stored."""
    module = type(value).__module__.split(".")[0]
    if module == "pandas" and type(value).__name__ == "DataFrame":
        buffer = io.BytesIO()
        value.to_parquet(buffer, index=True)  # type: ignore[attr-defined]
        return PANDAS, buffer.getvalue()
    if module == "pyarrow" and type(value).__name__ == "Table":
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        pq.write_table(value, buffer)
        return ARROW, buffer.getvalue()
    if isinstance(value, Model):
        if packager is None:
            raise InvalidInput(f"step {step!r}: models cannot be stored here (no packager)", field="output")
        return MODEL, packager.pack(value.model, value.input_example, value.flavor)
    try:
        data = json.dumps(value, sort_keys=True, allow_nan=False).encode()
    except (TypeError, ValueError):
        data = b""
    if data and len(data) <= MAX_JSON_BYTES:
        return JSON, data
    if pickle_ok:
        import cloudpickle

        return PICKLE, cloudpickle.dumps(value)
    what = "a JSON value over 16 MiB" if data else f"a {type(value).__module__}.{type(value).__qualname__}"
    raise InvalidInput(
        f"step {step!r} returned {what}, which cannot be stored: return a pandas DataFrame, an Arrow "
        "table, shipyard.pipelines.Model(model, input_example) or a JSON value, or declare "
        "@step(pickle=True)",
        field="output",
    )


def decode(kind: str, data: bytes, *, packager: ModelPackager | None) -> object:
    if kind == JSON:
        return json.loads(data)
    if kind == PANDAS:
        import pandas as pd

        return pd.read_parquet(io.BytesIO(data))
    if kind == ARROW:
        import pyarrow.parquet as pq

        return pq.read_table(io.BytesIO(data))
    if kind == MODEL:
        if packager is None:
            raise InvalidInput("models cannot be loaded here (no packager)", field="output")
        model, example, flavor = packager.unpack(data)
        return Model(model, example, flavor)
    if kind == PICKLE:
        import cloudpickle

        return cloudpickle.loads(data)
    raise InvalidInput(f"unknown output kind {kind!r}", field="output_kind")
