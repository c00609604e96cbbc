"""The artifact store port: a flat namespace of immutable blobs under string keys.

Keys are relative POSIX paths (``sha256/ab/cd/abcd…``). A key that is absolute, empty, contains
``..`` or a backslash, or otherwise escapes the store's root is rejected with
:class:`~shipyard.errors.InvalidInput` by :func:`check_key`, which every backend calls.

Writes are atomic: a reader never sees a partly written object under its final key, even if the
writing process is killed (local: temporary file then ``os.replace``; S3: a single whole upload,
which S3 makes visible only when complete). Content addressing and digest checks live one layer
up, in :mod:`shipyard.storage.artifacts.content`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from shipyard.errors import InvalidInput


@runtime_checkable
class ArtifactStore(Protocol):
    """Where bytes live. One concern: put, read, test, list and delete whole objects."""

    uri: str

    def put_file(self, key: str, source: Path) -> None:
        """Store the file at ``source`` under ``key`` atomically (replacing any object there)."""
        ...

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically."""
        ...

    def open(self, key: str) -> BinaryIO:
        """Open the object for reading; :class:`~shipyard.errors.NotFound` if absent."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int:
        """Size in bytes; :class:`~shipyard.errors.NotFound` if absent."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; deleting an absent key is not an error."""
        ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix`` (a key prefix, not necessarily a folder), in no promised order."""
        ...


def check_key(key: str) -> str:
    """Return ``key`` normalised, or raise InvalidInput naming why it could escape the root."""
    if not key or not isinstance(key, str):
        raise InvalidInput("artifact path must be a non-empty string", field="path")
    if "\\" in key or "\x00" in key:
        raise InvalidInput(f"artifact path {key!r} contains a backslash or NUL", field="path")
    if key.startswith("/") or (len(key) > 1 and key[1] == ":"):
        raise InvalidInput(f"artifact path {key!r} must be relative", field="path")
    parts = [p for p in key.split("/") if p not in ("", ".")]
    if not parts:
        raise InvalidInput(f"artifact path {key!r} names no file", field="path")
    if ".." in parts:
        raise InvalidInput(
            f"artifact path {key!r} escapes the store root ('..' is not allowed)", field="path"
        )
    return "/".join(parts)
