"""Operational telemetry: Prometheus metrics and the per-request context (request id, timing, last-resort
error handling).

Each server app owns one :class:`Telemetry` with its own ``CollectorRegistry`` (never the global
one), so a process can build many apps (tests do) without duplicate-metric errors.
"""

from __future__ import annotations

import itertools
import logging
import os
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shipyard.core import context
from shipyard.server.errors import internal_error_response

logger = logging.getLogger("shipyard.server")

REQUEST_ID_HEADER = "X-Request-ID"
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_UNMATCHED = "<unmatched>"  # one label for every unknown path, so scanners cannot blow up cardinality


class Telemetry:
    """The metrics one server app exposes at ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("method", "route", "status")
        self.requests = Counter(
            "shipyard_http_requests", "HTTP requests handled.", labels, registry=self.registry
        )
        self.latency = Histogram(
            "shipyard_http_request_duration_seconds",
            "Time to handle an HTTP request, until the response body is sent.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.runs_created = Counter("shipyard_runs_created", "Runs created.", registry=self.registry)
        self.metric_points = Counter(
            "shipyard_metric_points_ingested",
            "Metric points stored (batches seen before count 0).",
            registry=self.registry,
        )
        self.fast_metric_writes = Counter(
            "shipyard_metric_writes_fast_path",
            "Metric writes answered by the fast path (shipyard.server.ingest) rather than the route.",
            registry=self.registry,
        )
        self.artifact_bytes = Counter(
            "shipyard_artifact_bytes_uploaded", "Bytes of artifact content uploaded.", registry=self.registry
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, str(status)).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _RequestIds:
    """Request ids without a system call each: a random prefix per process (drawn again in a
    forked child) and a counter, 32 hex digits like a UUID's. Unique, not secret."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = os.urandom(10).hex()
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFF:012x}"


new_request_id = _RequestIds().next


def incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            # Echo only ids that are safe to log and to put back in a header.
            if 0 < len(text) <= 128 and all(c.isascii() and (c.isalnum() or c in "-_.:") for c in text):
                return text
            return None
    return None


class RequestContextMiddleware:
    """Per request: an id (``X-Request-ID``, taken from the request or generated, echoed on the
    response), a count and a latency observation by route template, and a generic 500 for any
    exception nothing else handled (the traceback goes to the log only)."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(scope) or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        begin = time.perf_counter()
        # Audit records written while serving this request carry its id.
        context_token = context.request_id.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception(
                "unhandled error in %s %s (request id %s)", scope["method"], scope["path"], request_id
            )
            if started:  # too late for an error response; the connection is dropped
                raise
            await internal_error_response(request_id)(scope, receive, send_with_id)
        finally:
            context.request_id.reset(context_token)
            route = getattr(scope.get("route"), "path", None) or _UNMATCHED
            self.telemetry.observe(scope["method"], route, status, time.perf_counter() - begin)
