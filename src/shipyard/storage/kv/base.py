"""The online store port: a key-value store of the newest value per entity key.

Values live in namespaces (one per feature view version). Every value carries the event
timestamp (epoch ms) of the row it came from, and a write keeps, per key, the value with the
larger timestamp: an older write never replaces a newer one (a tie goes to the later write), so
re-running or resuming a materialization is idempotent. Keys and values are opaque bytes; their
encoding belongs to the feature store (:mod:`shipyard.features.online`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from shipyard.errors import InvalidInput

#: A row to write: (entity key, value, event timestamp in epoch milliseconds).
Row = tuple[bytes, bytes, int]

_NAMESPACE = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


@runtime_checkable
class OnlineStore(Protocol):
    """Newest-wins key-value storage for online feature values."""

    def write(self, namespace: str, rows: Iterable[Row]) -> int:
        """Store rows, keeping per key the one with the larger event timestamp; returns how many
        rows were applied (rows older than what is stored are not counted; a key given twice in
        one call may count once or twice)."""
        ...

    def read(self, namespace: str, keys: Sequence[bytes]) -> list[tuple[bytes, int] | None]:
        """``(value, event_ts_ms)`` per key, in order; ``None`` for a key (or namespace) not stored."""
        ...

    def drop(self, namespace: str) -> None:
        """Forget a namespace and every value in it (no error when it does not exist)."""
        ...

    def close(self) -> None:
        """Release connections (a later call opens new ones)."""
        ...


def check_namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
        raise InvalidInput(
            f"online store namespace must be 1-200 letters, digits or '_.-', got {namespace!r}",
            field="namespace",
        )
    return namespace
