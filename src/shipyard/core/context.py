"""Request-scoped values that cross layers without being threaded through every call.

The server sets :data:`request_id` for each request (``X-Request-ID``); the audit trail records it
next to the actor, so a record can be matched to the access log line of the call that caused it.
"""

from __future__ import annotations

from contextvars import ContextVar

#: The id of the request being served, or None outside a request (SDK, CLI, demo).
request_id: ContextVar[str | None] = ContextVar("shipyard_request_id", default=None)
