"""Content-addressed artifacts: bytes stored under their SHA-256 digest and verified when read back.

The rest of Shipyard records digests (``sha256:<64 hex>``), never store keys. An object lives under
``sha256/<hex[:2]>/<hex[2:4]>/<hex>`` in any :class:`ArtifactStore`; the two fan-out levels keep
folders small on local disks. Storing content that is already present uploads nothing (an object of
the right size is trusted; one of the wrong size is rewritten). Every read path hashes the bytes it
returns and raises :class:`~shipyard.errors.CorruptArtifact` when they do not match.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from shipyard.errors import CorruptArtifact, InvalidInput, NotFound
from shipyard.storage.artifacts.base import ArtifactStore

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK = 1 << 20
_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Blob:
    """Stored content: its digest (``sha256:<64 hex>``) and size in bytes."""

    digest: str
    size: int


def parse_digest(value: str) -> str:
    """Return ``sha256:<hex>`` for ``sha256:<hex>`` or a bare 64-hex digest; InvalidInput otherwise."""
    if not isinstance(value, str):
        raise InvalidInput(f"digest must be a string, got {type(value).__name__}", field="digest")
    algorithm, colon, hex_part = value.partition(":")
    if not colon:
        algorithm, hex_part = "sha256", value
    if algorithm.lower() != "sha256":
        raise InvalidInput(f"digest {value!r} uses {algorithm!r}; only sha256 is supported", field="digest")
    hex_part = hex_part.lower()
    if not _HEX.fullmatch(hex_part):
        raise InvalidInput(
            f"digest {value!r} is malformed: expected 'sha256:' followed by 64 hex digits", field="digest"
        )
    return f"sha256:{hex_part}"


def write_atomically(chunks: Iterable[bytes], dest: Path, check: Callable[[str], None] | None = None) -> Path:
    """Write ``chunks`` to ``dest`` through a fsynced temporary file next to it, renamed into place
    only once every chunk is written and ``check`` (given the bytes' ``sha256:`` digest) accepted
    them. On any failure ``dest`` is left as it was."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.{secrets.token_hex(8)}.part"
    digest = hashlib.sha256() if check is not None else None
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                if digest is not None:
                    digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if check is not None and digest is not None:
            check(f"sha256:{digest.hexdigest()}")
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def blob_key(digest: str) -> str:
    """The store key of ``digest``: ``sha256/<hex[:2]>/<hex[2:4]>/<hex>``."""
    hex_part = parse_digest(digest).removeprefix("sha256:")
    return f"sha256/{hex_part[:2]}/{hex_part[2:4]}/{hex_part}"


def file_digest(path: Path) -> Blob:
    """Digest and size of the file at ``path``, read in 1 MiB chunks."""
    try:
        with open(path, "rb") as stream:
            return _hash_stream(stream)
    except FileNotFoundError:
        raise NotFound(f"file {path} does not exist", field="path") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a folder, not a file", field="path") from None


class ContentStore:
    """Content-addressed access to an :class:`ArtifactStore`."""

    def __init__(self, store: ArtifactStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"ContentStore({self.store!r})"

    # -- writes ----------------------------------------------------------------------------------

    def put_file(self, path: Path) -> Blob:
        """Store the file at ``path``; it must not change until this returns."""
        path = Path(path)
        before = _identity(path)
        blob = file_digest(path)
        uploaded = self._put(blob, lambda key: self.store.put_file(key, path))
        if _identity(path) != before:
            if uploaded:
                self._drop_if_corrupt(blob.digest)
            raise InvalidInput(f"{path} changed while it was being stored; store it again", field="path")
        return blob

    def put_bytes(self, data: bytes) -> Blob:
        blob = Blob(f"sha256:{hashlib.sha256(data).hexdigest()}", len(data))
        self._put(blob, lambda key: self.store.put_bytes(key, data))
        return blob

    def put_stream(self, stream: BinaryIO, expected_digest: str | None = None) -> Blob:
        """Store everything ``stream`` yields, spooled to a temporary file while it is hashed.

        If ``expected_digest`` is given and the content does not match, nothing is stored and
        :class:`CorruptArtifact` names both digests.
        """
        expected = parse_digest(expected_digest) if expected_digest is not None else None
        fd, name = tempfile.mkstemp(prefix="shipyard-spool-")
        spool = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                blob = _hash_stream(stream, out)
            if expected is not None and blob.digest != expected:
                raise CorruptArtifact(
                    f"content is corrupt: expected {expected}, read {blob.digest} ({blob.size} bytes); "
                    "nothing was stored",
                    field="digest",
                )
            self._put(blob, lambda key: self.store.put_file(key, spool))
            return blob
        finally:
            spool.unlink(missing_ok=True)

    def _put(self, blob: Blob, upload: Callable[[str], None]) -> bool:
        """Upload unless an object of the right size is there already; True if it uploaded."""
        key = blob_key(blob.digest)
        try:
            if self.store.size(key) == blob.size:
                return False
        except NotFound:
            pass
        upload(key)
        return True

    def _drop_if_corrupt(self, digest: str) -> None:
        """Delete the object if it does not match: a missing blob can be stored again, a corrupt one
        of the right size would be trusted by the next put."""
        try:
            with self.open(digest) as reader:
                while reader.read(CHUNK):
                    pass
        except CorruptArtifact:
            self.store.delete(blob_key(digest))

    # -- reads -----------------------------------------------------------------------------------

    def exists(self, digest: str) -> bool:
        return self.store.exists(blob_key(digest))

    def size(self, digest: str) -> int:
        digest = parse_digest(digest)
        try:
            return self.store.size(blob_key(digest))
        except NotFound:
            raise self._not_found(digest) from None

    def open(self, digest: str) -> BinaryIO:
        """A reader that hashes what it returns; CorruptArtifact at end of file on a mismatch.

        Only a reader read to its end has been verified.
        """
        digest = parse_digest(digest)
        try:
            raw = self.store.open(blob_key(digest))
        except NotFound:
            raise self._not_found(digest) from None
        return io.BufferedReader(_VerifyingReader(raw, digest, self.store.uri), buffer_size=CHUNK)

    def read_bytes(self, digest: str) -> bytes:
        with self.open(digest) as reader:
            return reader.read()

    def get_file(self, digest: str, dest: Path) -> Path:
        """Write the content to ``dest`` through a verified temporary file next to it.

        On any failure ``dest`` is left as it was (absent, or its previous content).
        """
        with self.open(digest) as reader:  # raises CorruptArtifact at its end on a mismatch
            return write_atomically(iter(functools.partial(reader.read, CHUNK), b""), Path(dest))

    def _not_found(self, digest: str) -> NotFound:
        return NotFound(f"artifact {digest} not found in {self.store.uri}", field="digest")


class _VerifyingReader(io.RawIOBase):
    """Passes bytes through from ``raw`` while hashing them; checks the digest at end of file."""

    def __init__(self, raw: BinaryIO, digest: str, where: str) -> None:
        self._raw = raw
        self._digest = digest
        self._where = where
        self._hash = hashlib.sha256()
        self._size = 0
        self._error: CorruptArtifact | None = None
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._raw.read(len(view))
        if not data and len(view):
            self._check()
            return 0
        view[: len(data)] = data
        self._hash.update(data)
        self._size += len(data)
        return len(data)

    def _check(self) -> None:
        if not self._checked:
            self._checked = True
            actual = f"sha256:{self._hash.hexdigest()}"
            if actual != self._digest:
                self._error = CorruptArtifact(
                    f"artifact {self._digest} is corrupt: expected {self._digest}, "
                    f"read {actual} ({self._size} bytes) from {self._where}",
                    field="digest",
                )
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def _hash_stream(stream: BinaryIO, sink: BinaryIO | None = None) -> Blob:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink.write(chunk)
    return Blob(f"sha256:{digest.hexdigest()}", size)


def _identity(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is rewritten: inode, size and modification time."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)
