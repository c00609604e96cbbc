"""A short-lived, in-process memory of authenticated tokens.

A token's hash is looked up in the database once; the principal is then held for at most
``ttl`` seconds (never past the token's own expiry), so a busy client costs no token query per
request. Revoking a token, or disabling a user, clears this process's memory at once; other server
processes (``shipyard server --workers N``) honour it within ``ttl`` seconds — the stated bound.
Entries are keyed by the secret's sha256, so raw secrets are never kept.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from shipyard.accounts.model import Principal

#: Seconds a checked token is trusted without asking the database again (setting ``token_cache_seconds``).
DEFAULT_TTL = 5.0
#: Tokens held at once; the least recently used is forgotten first.
MAX_ENTRIES = 10_000


class TokenCache:
    def __init__(self, ttl: float = DEFAULT_TTL, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> Principal | None:
        """The principal held for this secret hash, or None (unknown or past its deadline)."""
        if self.ttl <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            principal, deadline = entry
            if now >= deadline:
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return principal

    def put(self, digest: str, principal: Principal, expires_in: float | None = None) -> None:
        """Hold ``principal`` for ``ttl`` seconds, or ``expires_in`` when the token expires sooner."""
        if self.ttl <= 0:
            return
        hold = self.ttl if expires_in is None else min(self.ttl, expires_in)
        if hold <= 0:
            return
        with self._lock:
            self._entries[digest] = (principal, time.monotonic() + hold)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
