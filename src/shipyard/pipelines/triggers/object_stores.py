"""New-data sources on object stores: a ``files`` glob or a ``partitions`` folder given as a URL
(``s3://bucket/events/*.parquet``), listed through fsspec (s3fs for ``s3://``; any S3-compatible
server through ``s3_endpoint_url``). A file's fingerprint is its name, size and ETag (or its
modification time where a store has no ETag), as for local files."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from shipyard.errors import BackendUnavailable, InvalidInput


def is_url(path: str) -> bool:
    """Whether ``path`` names an object store rather than the local file system."""
    return "://" in path and not path.startswith("file://")


def _fs(url: str, options: Mapping[str, Any]) -> tuple[Any, str]:
    import fsspec

    scheme = url.split("://", 1)[0]
    try:
        fs, root = fsspec.core.url_to_fs(url, **dict(options.get(scheme, {})))
    except (ImportError, ValueError) as exc:
        raise InvalidInput(f"cannot watch {url!r}: {exc}", field="path") from None
    fs.invalidate_cache()  # listings are cached per instance: look again each time
    return fs, root


def files_fingerprint(pattern: str, options: Mapping[str, Any]) -> tuple[str, int]:
    """The fingerprint of the objects ``pattern`` matches, and how many there are."""
    fs, root = _fs(pattern, options)
    try:
        found = fs.glob(root, detail=True)
    except FileNotFoundError:
        found = {}
    except (OSError, PermissionError) as exc:
        raise BackendUnavailable(f"cannot list {pattern!r}: {exc}") from None
    h = hashlib.sha256()
    count = 0
    for name in sorted(found):
        info = found[name]
        if info.get("type") != "file":
            continue
        version = info.get("ETag") or info.get("LastModified") or info.get("mtime") or ""
        h.update(f"{name}\0{info.get('size')}\0{version}\n".encode())
        count += 1
    return h.hexdigest()[:32], count


def partitions(folder: str, options: Mapping[str, Any], limit: int) -> list[str]:
    """The names of the sub-folders of ``folder``, sorted (those starting with ``.`` or ``_`` left out)."""
    fs, root = _fs(folder, options)
    try:
        entries = fs.ls(root.rstrip("/"), detail=True)
    except FileNotFoundError:
        return []
    except (OSError, PermissionError) as exc:
        raise BackendUnavailable(f"cannot list {folder!r}: {exc}") from None
    names = sorted(e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "directory")
    names = [n for n in names if not n.startswith((".", "_"))]
    if len(names) > limit:
        raise InvalidInput(f"{folder} holds more than {limit} partitions", field="path")
    return names
