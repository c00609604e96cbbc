"""Artifact store in a dict, for tests and throwaway sessions. Thread-safe; nothing survives the
process."""

from __future__ import annotations

import io
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from shipyard.errors import InvalidInput, NotFound
from shipyard.storage.artifacts.base import check_key

_ids = itertools.count(1)


class MemoryArtifactStore:
    """Objects as ``bytes`` in a dict guarded by a lock; each instance is a separate store."""

    def __init__(self) -> None:
        self.uri = f"memory://{next(_ids)}"
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **options: str | None) -> MemoryArtifactStore:
        """A new, empty store for ``memory://``; options meant for other backends are ignored."""
        return cls()

    def __repr__(self) -> str:
        return f"MemoryArtifactStore({self.uri!r})"

    def put_file(self, key: str, source: Path) -> None:
        key = check_key(key)
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"file {source} does not exist", field="source") from None
        except IsADirectoryError:
            raise InvalidInput(f"{source} is a folder, not a file", field="source") from None
        self._set(key, data)

    def put_bytes(self, key: str, data: bytes) -> None:
        # bytes(): a caller's bytearray must not change the stored object later.
        self._set(check_key(key), bytes(data))

    def open(self, key: str) -> BinaryIO:
        return io.BytesIO(self._get(key))

    def exists(self, key: str) -> bool:
        key = check_key(key)
        with self._lock:
            return key in self._objects

    def size(self, key: str) -> int:
        return len(self._get(key))

    def delete(self, key: str) -> None:
        key = check_key(key)
        with self._lock:
            self._objects.pop(key, None)

    def list(self, prefix: str = "") -> Iterator[str]:
        wanted = check_key(prefix) + "/" * prefix.endswith("/") if prefix else ""
        with self._lock:
            keys = [key for key in self._objects if key.startswith(wanted)]
        return iter(keys)

    def _set(self, key: str, data: bytes) -> None:
        with self._lock:
            self._objects[key] = data

    def _get(self, key: str) -> bytes:
        key = check_key(key)
        with self._lock:
            data = self._objects.get(key)
        if data is None:
            raise NotFound(f"artifact {key!r} not found in {self.uri}", field="path")
        return data
