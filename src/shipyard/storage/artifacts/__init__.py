"""The artifact store: the :class:`ArtifactStore` port, its backends and the content-addressed layer.

Backends are the plugins of :data:`STORES` (built-ins plus the ``shipyard.artifact_stores`` entry
point group), chosen by the scheme of a location (:func:`open_store`); each provides
``from_url(url, **options)``. Importing this package loads no backend and does no I/O.
"""

from __future__ import annotations

from typing import Protocol, cast

from shipyard.core.plugins import PluginGroup
from shipyard.errors import ConfigError
from shipyard.storage.artifacts.base import ArtifactStore, check_key
from shipyard.storage.artifacts.content import Blob, ContentStore, file_digest, parse_digest

STORES = PluginGroup(
    "artifact_stores",
    builtins={
        "file": "shipyard.storage.artifacts.local:LocalArtifactStore",
        "memory": "shipyard.storage.artifacts.memory:MemoryArtifactStore",
        "s3": "shipyard.storage.artifacts.s3:S3ArtifactStore",
    },
    noun="artifact store scheme",
    shown="{}://",
)


class _StoreFactory(Protocol):
    def from_url(self, url: str, **options: str | None) -> ArtifactStore: ...


def open_store(location: str, *, s3_endpoint_url: str | None = None) -> ArtifactStore:
    """The store at ``location``: a folder path, ``file:///path``, ``s3://bucket/prefix`` or ``memory://``.

    The scheme names the backend; an unknown scheme is a :class:`~shipyard.errors.ConfigError`.
    ``s3_endpoint_url`` points S3 at a non-AWS server (MinIO, Ceph …) and is ignored by other backends.
    """
    if not location or not location.strip():
        raise ConfigError("artifact store location is empty (expected a folder, file://, s3:// or memory://)")
    scheme = location.split("://", 1)[0].lower() if "://" in location else "file"
    factory = STORES.load(scheme)
    if not callable(getattr(factory, "from_url", None)):
        raise ConfigError(f"artifact store backend {scheme!r} ({factory!r}) has no from_url(url) constructor")
    options = {"s3_endpoint_url": s3_endpoint_url} if s3_endpoint_url else {}
    return cast(_StoreFactory, factory).from_url(location, **options)


__all__ = [
    "STORES",
    "ArtifactStore",
    "Blob",
    "ContentStore",
    "check_key",
    "file_digest",
    "open_store",
    "parse_digest",
]
