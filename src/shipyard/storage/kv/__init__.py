"""The key-value port of the online feature store (:class:`OnlineStore`) and its backends.

Backends are the plugins of :data:`STORES` (built-ins plus the ``shipyard.online_stores`` entry
point group), chosen by the scheme of a location (:func:`open_online_store`): a plain path or
``sqlite:///path`` (SQLite), ``redis://`` / ``rediss://`` / ``unix://`` (Redis), ``memory://``.
Each provides ``from_url(url)``.
Importing this package loads no backend and opens nothing; backends connect on first use.
"""

from __future__ import annotations

from typing import Protocol, cast

from shipyard.core.plugins import PluginGroup
from shipyard.errors import ConfigError
from shipyard.storage.kv.base import OnlineStore, Row, check_namespace

STORES = PluginGroup(
    "online_stores",
    builtins={
        "sqlite": "shipyard.storage.kv.sqlite:SqliteOnlineStore",
        "redis": "shipyard.storage.kv.redis:RedisOnlineStore",
        "rediss": "shipyard.storage.kv.redis:RedisOnlineStore",
        "unix": "shipyard.storage.kv.redis:RedisOnlineStore",
        "memory": "shipyard.storage.kv.memory:MemoryOnlineStore",
    },
    noun="online store scheme",
    shown="{}://",
)


class _StoreFactory(Protocol):
    def from_url(self, url: str) -> OnlineStore: ...


def open_online_store(location: str) -> OnlineStore:
    """The online store at ``location``; nothing is connected until the first read or write."""
    if not location or not location.strip():
        raise ConfigError(
            "online store location is empty (expected a file path, sqlite:///, redis:// or memory://)"
        )
    scheme = location.split("://", 1)[0].lower() if "://" in location else "sqlite"
    factory = STORES.load(scheme)
    if not callable(getattr(factory, "from_url", None)):
        raise ConfigError(f"online store backend {scheme!r} ({factory!r}) has no from_url(url) constructor")
    return cast(_StoreFactory, factory).from_url(location)


__all__ = ["STORES", "OnlineStore", "Row", "check_namespace", "open_online_store"]
