"""A short-lived, in-process memory of authenticated tokens and of the access checks they passed.

A token's hash is looked up in the database once; the principal is then held for at most
``ttl`` seconds (never past the token's own expiry), so a busy client costs no token query per
request. An access check that let a token do something (write to one run, say) is held the same
way, so a busy client costs no grant query either. Revoking a token, disabling a user, or granting
or revoking a role clears this process's memory at once; other server processes
(``shipyard server --workers N``) honour it within ``ttl`` seconds — the stated bound. Entries are
keyed by the secret's sha256, so raw secrets are never kept.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

#: Seconds a checked token is trusted without asking the database again (setting ``token_cache_seconds``).
DEFAULT_TTL = 5.0
#: Entries held at once; the least recently used is forgotten first.
MAX_ENTRIES = 10_000


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values held for at most ``ttl`` seconds (0: nothing is held), the least recently used
    forgotten first past ``max_entries``."""

    def __init__(self, ttl: float = DEFAULT_TTL, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value held for ``key``, or None (unknown or past its deadline)."""
        if self.ttl <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            value, deadline = entry
            if now >= deadline:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V, expires_in: float | None = None) -> None:
        """Hold ``value`` for ``ttl`` seconds, or ``expires_in`` when that is sooner."""
        if self.ttl <= 0:
            return
        hold = self.ttl if expires_in is None else min(self.ttl, expires_in)
        if hold <= 0:
            return
        with self._lock:
            self._entries[key] = (value, time.monotonic() + hold)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
