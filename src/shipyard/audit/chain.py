"""How a record is hashed: ``sha256(prev_hash + canonical JSON of the record's fields)``.

Canonical JSON is ``json.dumps`` with sorted keys, no whitespace and UTF-8 text, over values that
round-trip through the database unchanged (:func:`jsonable` normalises them before they are stored
and hashed), so :mod:`.verify` recomputes exactly the hash that :mod:`.log` wrote.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

#: The ``prev_hash`` of the first record.
GENESIS = "0" * 64

#: The fields a record's hash covers, in the order they are documented.
HASHED_FIELDS = (
    "seq",
    "id",
    "at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "request_id",
)


def jsonable(value: object) -> Any:
    """``value`` as plain JSON data (dict, list, str, int, float, bool, None).

    Datetimes become ISO strings, enums their value, dataclasses dicts, paths and other objects
    their ``str``; non-finite floats become strings, since JSON has no NaN.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, PurePath):
        return str(value)
    return str(value)


def canonical(fields: Mapping[str, object]) -> str:
    return json.dumps(
        {name: fields[name] for name in HASHED_FIELDS},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def record_hash(prev_hash: str, fields: Mapping[str, object]) -> str:
    return hashlib.sha256((prev_hash + canonical(fields)).encode()).hexdigest()
