"""An in-process online store for tests and throwaway sessions (``memory://``)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from shipyard.storage.kv.base import Row, check_namespace


class MemoryOnlineStore:
    """Dictionaries behind one lock. Each ``memory://`` location opens a new, empty store."""

    def __init__(self) -> None:
        self._data: dict[str, dict[bytes, tuple[bytes, int]]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> MemoryOnlineStore:
        return cls()

    def write(self, namespace: str, rows: Iterable[Row]) -> int:
        check_namespace(namespace)
        applied = 0
        with self._lock:
            space = self._data.setdefault(namespace, {})
            for key, value, ts in rows:
                current = space.get(key)
                if current is None or current[1] <= ts:
                    space[key] = (bytes(value), int(ts))
                    applied += 1
        return applied

    def read(self, namespace: str, keys: Sequence[bytes]) -> list[tuple[bytes, int] | None]:
        space = self._data.get(namespace)
        if space is None:
            check_namespace(namespace)
            return [None] * len(keys)
        return [space.get(key) for key in keys]

    def drop(self, namespace: str) -> None:
        check_namespace(namespace)
        with self._lock:
            self._data.pop(namespace, None)

    def close(self) -> None:
        """Nothing to release: the values stay until the store is garbage-collected."""
