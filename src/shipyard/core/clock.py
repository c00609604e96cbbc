"""Time in one place: epoch milliseconds for storage, aware UTC datetimes for people."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import overload


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@overload
def to_datetime(ms: int) -> datetime: ...
@overload
def to_datetime(ms: None) -> None: ...
@overload
def to_datetime(ms: int | None) -> datetime | None: ...
def to_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def to_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)
