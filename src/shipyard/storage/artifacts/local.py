"""Artifact store in a local folder.

Every write goes to ``<root>/.tmp/<random>`` (same filesystem), is flushed and fsynced, then
``os.replace``-d onto its final path, so a reader, or a process killed mid-write, never leaves a
partial object under a real key. ``.tmp`` may keep orphans of killed writers; it is never listed and
no key may point into it. Keys are checked by :func:`check_key` and the resolved path must stay
inside the root, so a symlink cannot lead a key outside it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit
from urllib.request import url2pathname

from shipyard.errors import ConfigError, InvalidInput, NotFound
from shipyard.storage.artifacts.base import check_key

TMP_DIR = ".tmp"
_CHUNK = 1 << 20


class LocalArtifactStore:
    """Objects as files under ``root``; folders are created on first write."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().absolute()
        self.uri = self.root.as_uri()

    @classmethod
    def from_url(cls, url: str, **options: str | None) -> LocalArtifactStore:
        """Build from a plain path or a ``file://`` URL; options meant for other backends are ignored."""
        if "://" not in url:
            return cls(Path(url))
        parts = urlsplit(url)
        if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost") or parts.query:
            raise ConfigError(f"artifact store {url!r} is not a local file URL (expected file:///path)")
        return cls(Path(url2pathname(parts.path)))

    def __repr__(self) -> str:
        return f"LocalArtifactStore({str(self.root)!r})"

    # -- paths -----------------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        """The file for ``key``, refusing reserved names and anything resolving outside the root."""
        key = check_key(key)
        if key.split("/", 1)[0] == TMP_DIR:
            raise InvalidInput(
                f"artifact path {key!r} is reserved ({TMP_DIR}/ holds partial writes)", field="path"
            )
        path = self.root / key
        root = self.root.resolve()
        if not path.resolve().is_relative_to(root):
            raise InvalidInput(
                f"artifact path {key!r} resolves outside the store root {root} (through a symlink)",
                field="path",
            )
        return path

    # -- writes ----------------------------------------------------------------------------------

    def put_file(self, key: str, source: Path) -> None:
        self._path(key)  # a bad key is reported before a missing source
        try:
            src = open(source, "rb")  # noqa: SIM115 - closed below, after the atomic write
        except FileNotFoundError:
            raise NotFound(f"file {source} does not exist", field="source") from None
        except IsADirectoryError:
            raise InvalidInput(f"{source} is a folder, not a file", field="source") from None
        with src:
            self._write(key, src)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write(key, memoryview(data))

    def _write(self, key: str, content: BinaryIO | memoryview) -> None:
        key = check_key(key)
        dest = self._path(key)
        tmp_dir = self.root / TMP_DIR
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / secrets.token_hex(16)
        # O_EXCL: never reuse a name; mode 0o666 lets the umask decide, like any other file.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(content, memoryview):
                    out.write(content)
                else:
                    while chunk := content.read(_CHUNK):
                        out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise InvalidInput(
                    f"artifact path {key!r} lies inside a path that is itself an artifact", field="path"
                ) from None
            if dest.is_dir():
                raise InvalidInput(f"artifact path {key!r} is a folder of other artifacts", field="path")
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(dest.parent)

    # -- reads -----------------------------------------------------------------------------------

    def open(self, key: str) -> BinaryIO:
        key = check_key(key)
        try:
            return open(self._path(key), "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise self._not_found(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        key = check_key(key)
        path = self._path(key)
        if not path.is_file():
            raise self._not_found(key)
        return path.stat().st_size

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_dir():
            return
        path.unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[str]:
        wanted = check_key(prefix) + "/" * prefix.endswith("/") if prefix else ""
        # Walk only the folder the prefix reaches into; filter the rest by string prefix.
        folder = wanted.rpartition("/")[0]
        if folder.split("/", 1)[0] == TMP_DIR:
            return
        top = self._path(folder) if folder else self.root
        if not top.is_dir():
            return
        root = self.root.resolve()
        for dirpath, dirnames, filenames in os.walk(top):
            here = Path(dirpath)
            if here == self.root and TMP_DIR in dirnames:
                dirnames.remove(TMP_DIR)
            for name in filenames:
                path = here / name
                if path.is_symlink() and not path.resolve().is_relative_to(root):
                    continue
                key = path.relative_to(self.root).as_posix()
                if key.startswith(wanted):
                    yield key

    def _not_found(self, key: str) -> NotFound:
        return NotFound(f"artifact {key!r} not found in {self.uri}", field="path")


def _fsync_dir(path: Path) -> None:
    """Persist a rename; best effort, as some filesystems refuse fsync on folders."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
