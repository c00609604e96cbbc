"""The metric write path at speed: ``POST /api/v1/runs/{run_id}/metrics`` without the framework.

Metric points are the server's write load, and the framework's layers (routing, middleware,
dependency resolution, a thread hop, pydantic over every point) cost several times what storing
the points does. :class:`MetricIngest` sits in front of the application and answers the common
request itself:

- a bearer token that this process holds as allowed to write to the run (a check the route's own
  ``authorize`` dependency made within ``token_cache_seconds``, see
  :meth:`~shipyard.accounts.service.AccountsService.held_access`);
- a declared ``Content-Length`` within ``max_body_bytes``, and no query string;
- a body that orjson decodes to ``{"points": [[key, value, step, timestamp], ...], "batch_id": ...}``
  with plain keys (printable, one line, within the key limit), numbers as values (not the strings
  ``"NaN"`` and ``"Infinity"``, nor null) and 64-bit integers as steps and timestamps.

Such a request is handed to the group commit (:mod:`shipyard.tracking.group_commit`) from the event
loop and answered once its transaction committed, with the same body, headers (``X-Request-ID``
and the browser defences of :mod:`shipyard.server.guard`), telemetry and error envelope as the
route. Every other request on the path — no token, a token not checked yet or refused, a body the
check above does not accept — goes on to the route unchanged (with the body already read handed
on), so every refusal is the route's own, made by the same code.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Hashable
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shipyard.app import App
from shipyard.errors import ShipyardError
from shipyard.server.errors import envelope, internal_error_response, status_of
from shipyard.server.guard import SECURITY_HEADERS
from shipyard.server.telemetry import REQUEST_ID_HEADER, Telemetry, incoming_request_id, new_request_id
from shipyard.tracking.group_commit import MetricGroupCommit
from shipyard.tracking.validation import INT64_MAX, INT64_MIN, MAX_KEY

logger = logging.getLogger("shipyard.server")

#: The route's template (the label its requests are counted under).
ROUTE = "/api/v1/runs/{run_id}/metrics"
_PREFIX, _SUFFIX = "/api/v1/runs/", "/metrics"
_JSON = (b"content-type", b"application/json")


class MetricIngest:
    """ASGI: the metric write route's common requests, answered here (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        shipyard: App,
        writes: MetricGroupCommit,
        telemetry: Telemetry,
        question: Any,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.shipyard = shipyard
        self.writes = writes
        self.telemetry = telemetry
        self.question = question  # the route's authorize(...).question
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path.startswith(_PREFIX) and path.endswith(_SUFFIX) and not scope.get("query_string"):
                run_id = path[len(_PREFIX) : -len(_SUFFIX)]
                if run_id.isalnum() and run_id.isascii():
                    await self._ingest(scope, receive, send, run_id)
                    return
        await self.app(scope, receive, send)

    async def _ingest(self, scope: Scope, receive: Receive, send: Send, run_id: str) -> None:
        begin = time.perf_counter()
        secret, length = "", -1
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, rest = value.decode("latin-1").partition(" ")
                secret = rest.strip() if scheme.lower() == "bearer" else ""
            elif name == b"content-length" and value.isdigit():
                length = int(value)
        if not secret or not 0 <= length <= self.max_body_bytes:
            await self.app(scope, receive, send)  # the route refuses it, or takes a chunked body
            return
        if self.shipyard.accounts.held_access(secret, self._question(run_id)) is None:
            await self.app(scope, receive, send)  # the route checks it (and holds what it finds)
            return
        body = await _read(receive)
        if body is None:
            return  # the client went away
        batch = _plain_batch(body)
        if batch is None:
            await self.app(scope, _replay(body, receive), send)
            return
        points, batch_id = batch
        request_id = incoming_request_id(scope) or new_request_id()
        try:
            stored = await asyncio.wrap_future(self.writes.submit(run_id, points, batch_id=batch_id))
        except ShipyardError as exc:
            status = status_of(exc)
            answer = orjson.dumps(envelope(type(exc).__name__, exc.message, exc.field))
        except Exception:
            logger.exception("unhandled error in POST %s (request id %s)", scope["path"], request_id)
            response = internal_error_response(request_id)
            status, answer = response.status_code, bytes(response.body)
        else:
            status, answer = 200, b'{"stored":%d}' % stored
            self.telemetry.metric_points.inc(stored)
        await _respond(send, status, answer, request_id)
        self.telemetry.observe("POST", ROUTE, status, time.perf_counter() - begin)
        self.telemetry.fast_metric_writes.inc()

    def _question(self, run_id: str) -> Hashable:
        question: Hashable = self.question({"run_id": run_id}, None)
        return question


async def _read(receive: Receive) -> bytes | None:
    """The body (no longer than its declared length: the HTTP server holds the client to it),
    or None if the client disconnected."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` again, then whatever the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _plain_batch(body: bytes) -> tuple[list[tuple[str, float, int, int]], str | None] | None:
    """The points and batch id of a body in the plain form (module docstring), or None. Plain
    text is ``str.isprintable()``: no control characters, line breaks or lone surrogates."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict or not 1 <= len(data) <= 2:
        return None
    points = data.get("points")
    batch_id = data.get("batch_id")
    if type(points) is not list or len(data) != 1 + ("batch_id" in data):
        return None
    if batch_id is not None and not (
        type(batch_id) is str and 0 < len(batch_id) <= 64 and batch_id.isprintable()
    ):
        return None
    keys: set[str] = set()
    rows = []
    for point in points:
        if type(point) is not list or len(point) != 4:
            return None
        key, value, step, timestamp = point
        if type(step) is not int or type(timestamp) is not int or type(value) not in (float, int):
            return None
        if not (INT64_MIN <= step <= INT64_MAX and INT64_MIN <= timestamp <= INT64_MAX):
            return None
        if key not in keys:
            if type(key) is not str or not (0 < len(key) <= MAX_KEY and key.isprintable() and key.strip()):
                return None
            keys.add(key)
        rows.append((key, value, step, timestamp))
    return rows, batch_id


async def _respond(send: Send, status: int, body: bytes, request_id: str) -> None:
    headers = [
        _JSON,
        (b"content-length", str(len(body)).encode()),
        (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
        *SECURITY_HEADERS,
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def install_ingest(api: FastAPI, app: App, writes: MetricGroupCommit, telemetry: Telemetry) -> None:
    """Put :class:`MetricIngest` in front of ``api`` (outermost of its middleware), asking the
    route's own authorization question."""
    for context in iter_route_contexts(api.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.path == ROUTE and "POST" in (route.methods or ()):
            calls: list[Any] = [d.call for d in route.dependant.dependencies]
            questions = [c.question for c in calls if hasattr(c, "question")]
            break
    else:
        raise LookupError(f"no POST {ROUTE} route to put the fast path in front of")
    (question,) = questions
    api.add_middleware(
        MetricIngest,
        shipyard=app,
        writes=writes,
        telemetry=telemetry,
        question=question,
        max_body_bytes=app.settings.max_body_bytes,
    )


__all__ = ["ROUTE", "MetricIngest", "install_ingest"]
