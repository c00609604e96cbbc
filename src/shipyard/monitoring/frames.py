"""From inference-log rows to what the checks read: a frame of the inputs (the row as sent plus
fetched features), the logged outputs, latencies and times. The log keeps each row's inputs and
output as JSON text, so decoding is the cost of a window: one ``orjson`` parse per row."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa


@dataclass(frozen=True)
class WindowData:
    inputs: pd.DataFrame
    outputs: np.ndarray  # one logged output per row (object dtype when outputs are not numbers)
    request_ids: np.ndarray
    rows: np.ndarray  # the row's index in its request
    times: np.ndarray  # epoch ms
    latency_ms: np.ndarray
    versions: np.ndarray

    def __len__(self) -> int:
        return len(self.times)


def _first_output(value: object) -> object:
    # A multi-output model logs a list per row; its first output is what is monitored.
    return value[0] if isinstance(value, list) and value else value


def decode_outputs(logged: list[str | None]) -> list[object]:
    """The logged outputs, parsed in one call as a JSON array (an empty one is null)."""
    return [_first_output(v) for v in orjson.loads("[" + ",".join(t or "null" for t in logged) + "]")]


def decode(table: pa.Table) -> WindowData:
    columns = table.to_pydict() if table.num_rows else {name: [] for name in table.column_names}
    records = [orjson.loads(text) if text else {} for text in columns.get("inputs", [])]
    for record, features in zip(records, columns.get("features", []), strict=False):
        if features:
            for key, value in orjson.loads(features).items():
                record.setdefault(key, value)
    outputs = decode_outputs(columns.get("output", []))
    try:
        out = np.asarray(outputs, dtype=float)
    except (TypeError, ValueError):
        out = np.asarray(outputs, dtype=object)
    return WindowData(
        inputs=pd.DataFrame.from_records(records) if records else pd.DataFrame(),
        outputs=out,
        request_ids=np.asarray(columns.get("request_id", []), dtype=object),
        rows=np.asarray(columns.get("row", []), dtype=np.int64),
        times=np.asarray(columns.get("time", []), dtype=np.int64),
        latency_ms=np.asarray(columns.get("latency_ms", []), dtype=float),
        versions=np.asarray(columns.get("version", []), dtype=np.int64),
    )
