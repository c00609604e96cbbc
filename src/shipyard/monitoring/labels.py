"""Late labels: the true outcome of a prediction, sent when it is known, joined to the inference log
by request id (and row, for a request of several rows).

A batch is validated whole before anything is stored (a wrong type names the item and field).
Then every label is kept, and what is unusual is counted, never refused: a label sent again is a
duplicate (the first is kept); a label whose request id is not in the inference log yet is unknown
(kept: its prediction may still be in flight, and the join finds it later); a label for a
prediction older than one labelled before is out of order (kept; windows already evaluated are
re-evaluated with ``shipyard monitor evaluate --at``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, func, select

from shipyard.errors import InvalidInput
from shipyard.monitoring.model import LabelReport
from shipyard.monitoring.tables import LabelRow
from shipyard.storage.metadata.base import table
from shipyard.storage.metadata.upsert import insert_ignore

MAX_BATCH = 100_000
MAX_ID = 200
labels_t = table(LabelRow)


@dataclass(frozen=True)
class Label:
    request_id: str
    value: str  # as text: classes compare by their text form, regression values parse back
    row: int = 0


def parse(items: Sequence[Mapping[str, object]]) -> list[Label]:
    """``[{"request_id": str, "label": str|int|float|bool, "row": int = 0}]`` -> labels, or an
    InvalidInput naming the first bad item (nothing is stored)."""
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        raise InvalidInput("labels must be a list of {request_id, label, row?} objects", field="labels")
    if len(items) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH} labels per batch, got {len(items)}", field="labels")
    out: list[Label] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidInput(f"labels[{i}] must be an object, got {type(item).__name__}", field="labels")
        request_id, value, row = item.get("request_id"), item.get("label"), item.get("row", 0)
        if not isinstance(request_id, str) or not 0 < len(request_id) <= MAX_ID:
            raise InvalidInput(
                f"labels[{i}].request_id must be a string of 1-{MAX_ID} characters", field="request_id"
            )
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, float) and not np.isfinite(value):
            raise InvalidInput(f"labels[{i}].label must be finite, got {value!r}", field="label")
        if not isinstance(value, str | int | float) or (isinstance(value, str) and not 0 < len(value) <= 200):
            raise InvalidInput(
                f"labels[{i}].label must be a number or a string of 1-200 characters, got {value!r}",
                field="label",
            )
        if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < 1_000_000:
            raise InvalidInput(
                f"labels[{i}].row must be an integer from 0 to 999999, got {row!r}", field="row"
            )
        out.append(Label(request_id, str(value), row))
    return out


def store(
    conn: Connection,
    deployment: str,
    labels: Sequence[Label],
    predicted: Mapping[tuple[str, int], int],
    *,
    now: int,
) -> LabelReport:
    """Insert ``labels``; ``predicted`` maps the (request id, row) found in the inference log to
    the prediction's time."""
    latest = conn.execute(
        select(func.max(labels_t.c.predicted_at)).where(labels_t.c.deployment == deployment)
    ).scalar()
    seen: set[tuple[str, int]] = set()
    fresh: list[Label] = []
    for label in labels:
        key = (label.request_id, label.row)
        if key not in seen:
            seen.add(key)
            fresh.append(label)
    known = lookup(conn, deployment, [(label.request_id, label.row) for label in fresh])
    rows = [
        {
            "deployment": deployment,
            "request_id": label.request_id,
            "row": label.row,
            "value": label.value,
            "predicted_at": predicted.get((label.request_id, label.row)),
            "received_at": now,
        }
        for label in fresh
        if (label.request_id, label.row) not in known
    ]
    stored = insert_ignore(conn, labels_t, rows) if rows else 0
    out_of_order = 0
    if latest is not None:
        out_of_order = sum(1 for r in rows if r["predicted_at"] is not None and r["predicted_at"] < latest)
    unknown = sum(1 for r in rows if r["predicted_at"] is None)
    return LabelReport(
        received=len(labels),
        stored=stored,
        duplicates=len(labels) - stored,
        unknown=unknown,
        out_of_order=out_of_order,
    )


def lookup(conn: Connection, deployment: str, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """The labels known for these predictions (one cheap query when the deployment has none)."""
    if (
        not keys
        or conn.execute(select(labels_t.c.row).where(labels_t.c.deployment == deployment).limit(1)).first()
        is None
    ):
        return {}
    wanted = set(keys)
    ids = sorted({request_id for request_id, _ in keys})
    found: dict[tuple[str, int], str] = {}
    for start in range(0, len(ids), 900):
        stmt = select(labels_t.c.request_id, labels_t.c.row, labels_t.c.value).where(
            labels_t.c.deployment == deployment, labels_t.c.request_id.in_(ids[start : start + 900])
        )
        found.update({(r, n): v for r, n, v in conn.execute(stmt) if (r, n) in wanted})
    return found
