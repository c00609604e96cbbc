"""The prediction server's HTTP routes: a lean Starlette app (no per-row validation models).

======================================================  =========================================
``POST /v1/deployments/{name}/predict``                  Shipyard JSON (rows, batches, entities)
``POST /invocations``, ``/v1/deployments/{name}/invocations``  MLflow scoring protocol
``POST /v2/models/{name}[/versions/{v}]/infer``          Open Inference Protocol v2
``GET /v2``, ``/v2/health/live|ready``, ``/v2/models/{name}[/versions/{v}][/ready]``  v2 metadata
``GET /health``, ``/ready``, ``/metrics``                 probes and Prometheus figures
======================================================  =========================================

The prediction routes (every ``POST`` above) are dispatched by path before Starlette's middleware
and router: their handlers catch every error themselves, so the hot path skips four ASGI layers.
Every answer carries ``X-Request-ID`` (the caller's, or a new one) and ``X-Model-Version``.
Errors are ``{"error": message, "field": name}`` with 400 (unreadable JSON), 401, 403, 404, 413
(body over the limit), 415 (not JSON), 422 (a payload in no accepted shape, or a missing or
mistyped column, named) or 503.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as HttpRoute
from starlette.types import Receive, Scope, Send

from shipyard.errors import NotFound, ShipyardError
from shipyard.serving.runtime.fleet import Arrivals
from shipyard.serving.runtime.payloads import Rows, parse_entities_only, parse_mlflow, parse_v2
from shipyard.serving.runtime.server import Answer, PredictionServer, status_of

log = logging.getLogger("shipyard.serve")

MAX_REQUEST_ID = 200
_V2_TYPES = {
    "bool": "BOOL",
    "float32": "FP32",
    "float64": "FP64",
    "float16": "FP32",
    "string": "BYTES",
    "category": "BYTES",
    "datetime": "BYTES",
    "object": "BYTES",
}


class HttpError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def _json(data: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _error(status: int, message: str, field: str | None, request_id: str | None = None) -> Response:
    headers = {"X-Request-ID": request_id} if request_id else None
    return _json({"error": message, "field": field}, status, headers)


def _request_id(request: Request) -> str | None:
    given = request.headers.get("x-request-id")
    if given and len(given) <= MAX_REQUEST_ID and given.isprintable():
        return given
    return None


def _v2_type(dtype: str) -> str:
    if dtype in _V2_TYPES:
        return _V2_TYPES[dtype]
    return dtype.upper().replace("FLOAT", "FP") if dtype.startswith(("int", "uint")) else "BYTES"


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def build_http_app(server: PredictionServer) -> PredictionApp:
    limit = server.config.max_body_bytes

    async def body(request: Request) -> object:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise HttpError(413, f"the request body is over the limit of {limit} bytes", "body")
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if ctype not in ("application/json", ""):
            raise HttpError(415, f"send application/json, not {ctype}", "content-type")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HttpError(413, f"the request body is over the limit of {limit} bytes", "body")
            chunks.append(chunk)
        try:
            return orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError as exc:
            raise HttpError(400, f"the body is not valid JSON: {exc}", "body") from None

    def secret(request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else ""

    def guarded(handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except HttpError as exc:
                return _error(exc.status, exc.message, exc.field, _request_id(request))
            except ShipyardError as exc:
                return _error(status_of(exc), exc.message, exc.field, _request_id(request))
            except Exception:
                log.exception("prediction failed")
                return _error(500, "the server failed to predict; see its log", None, _request_id(request))

        return wrapped

    def version_of(raw: str | None) -> int | None:
        if raw is None:
            return None
        if not raw.isdigit() or len(raw) > 9:
            raise NotFound(f"model version {raw!r} does not exist", field="version")
        return int(raw)

    async def run(
        request: Request, name: str | None, parse: Callable[[object], Rows], version: str | None = None
    ) -> Answer:
        """Answer a prediction request to deployment ``name`` (None: the only one served). The
        token is checked before anything else is looked at (see :meth:`PredictionServer.open`)."""
        arrival = server.arrive()  # a batcher waits for this request only until it submits
        try:
            route = await server.open(name, secret(request))
            number = version_of(version)
            rows = parse(await body(request))
            return await server.predict(
                route,
                rows,
                request_id=rows.request_id or _request_id(request),
                version=number,
                arrival=arrival,
            )
        finally:
            arrival.leave()

    def headers(answer: Answer) -> dict[str, str]:
        return {"X-Request-ID": answer.request_id, "X-Model-Version": str(answer.version)}

    @guarded
    async def predict_own(request: Request) -> Response:
        answer = await run(request, request.path_params["name"], parse_entities_only)
        data = {
            "deployment": answer.deployment,
            "model": answer.model,
            "version": answer.version,
            "request_id": answer.request_id,
            "predictions": answer.outputs,
        }
        if answer.single:
            data["prediction"] = answer.outputs[0]
        return _json(data, headers=headers(answer))

    @guarded
    async def invocations(request: Request) -> Response:
        answer = await run(request, request.path_params.get("name"), parse_mlflow)
        return _json({"predictions": answer.outputs}, headers=headers(answer))

    def version_param(request: Request) -> int | None:
        return version_of(request.path_params.get("version"))

    @guarded
    async def infer(request: Request) -> Response:
        answer = await run(request, request.path_params["name"], parse_v2, request.path_params.get("version"))
        outputs = answer.outputs
        names = answer.output_names or ("prediction",)
        if len(names) > 1 and outputs and isinstance(outputs[0], list):
            tensors = [
                {"name": n, "shape": [len(outputs)], "datatype": "FP64", "data": [row[i] for row in outputs]}
                for i, n in enumerate(names)
            ]
        else:
            sample = outputs[0] if outputs else 0
            datatype = (
                "BOOL" if isinstance(sample, bool)
                else "INT64" if isinstance(sample, int)
                else "FP64" if isinstance(sample, float)
                else "BYTES"
            )  # fmt: skip
            tensors = [{"name": names[0], "shape": [len(outputs)], "datatype": datatype, "data": outputs}]
        data = {
            "model_name": answer.deployment,
            "model_version": str(answer.version),
            "id": answer.request_id,
            "outputs": tensors,
        }
        return _json(data, headers=headers(answer))

    @guarded
    async def v2_model(request: Request) -> Response:
        # A model's metadata (its signature) is read with the same token as its predictions.
        route = await server.open(request.path_params["name"], secret(request))
        version = version_param(request)
        target = route.target(version) if version is not None else route.primary
        item = await server.fleet.get(target.model, target.version)
        return _json(
            {
                "name": route.deployment.name,
                "versions": sorted({str(t.version) for t in route.deployment.targets}),
                "platform": f"shipyard-{item.loaded.flavor}",
                "inputs": [{"name": n, "datatype": _v2_type(t), "shape": [-1]} for n, t in item.specs],
                "outputs": [{"name": n, "datatype": _v2_type(t), "shape": [-1]} for n, t in item.outputs],
            }
        )

    @guarded
    async def v2_model_ready(request: Request) -> Response:
        route = await server.open(request.path_params["name"], secret(request))
        version = version_param(request)
        if version is not None:
            route.target(version)
        return _json({"name": route.deployment.name, "ready": True})

    async def v2_server(request: Request) -> Response:
        return _json({"name": "shipyard", "version": "1", "extensions": []})

    async def health(request: Request) -> Response:
        return _json({"status": "ok"})

    async def ready(request: Request) -> Response:
        if not server.ready:
            return _json({"status": "starting"}, 503)
        return _json({"status": "ready", "deployments": len(server.table.routes)})

    async def metrics(request: Request) -> Response:
        return Response(server.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await server.start()
        try:
            yield
        finally:
            await server.stop()

    routes = [
        HttpRoute("/health", health),
        HttpRoute("/ready", ready),
        HttpRoute("/metrics", metrics),
        HttpRoute("/ping", health),
        HttpRoute("/v1/deployments/{name}/predict", predict_own, methods=["POST"]),
        HttpRoute("/v1/deployments/{name}/invocations", invocations, methods=["POST"]),
        HttpRoute("/invocations", invocations, methods=["POST"]),
        HttpRoute("/v2", v2_server),
        HttpRoute("/v2/health/live", health),
        HttpRoute("/v2/health/ready", ready),
        HttpRoute("/v2/models/{name}", v2_model),
        HttpRoute("/v2/models/{name}/ready", v2_model_ready),
        HttpRoute("/v2/models/{name}/infer", infer, methods=["POST"]),
        HttpRoute("/v2/models/{name}/versions/{version}", v2_model),
        HttpRoute("/v2/models/{name}/versions/{version}/ready", v2_model_ready),
        HttpRoute("/v2/models/{name}/versions/{version}/infer", infer, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.server = server
    return PredictionApp(app, predict_own, invocations, infer, server.arrivals)


class PredictionApp:
    """The ASGI app: ``POST`` to a prediction route goes straight to its handler; everything else
    (probes, metadata, ``/metrics``, other methods, lifespan) through the Starlette ``app``."""

    def __init__(
        self, app: Starlette, predict: Handler, invocations: Handler, infer: Handler, arrivals: Arrivals
    ) -> None:
        self.app = app
        self.state = app.state
        self.arrivals = arrivals
        self._predict = predict
        self._invocations = invocations
        self._infer = infer

    def handler(self, path: str) -> tuple[Handler, dict[str, str]] | None:
        """The handler and path parameters of a prediction route (the router's matching: a
        parameter is one non-empty path segment)."""
        if path == "/invocations":
            return self._invocations, {}
        parts = path.split("/")
        if "" in parts[1:]:
            return None
        if len(parts) == 5 and parts[1] == "v1" and parts[2] == "deployments":
            if parts[4] == "predict":
                return self._predict, {"name": parts[3]}
            if parts[4] == "invocations":
                return self._invocations, {"name": parts[3]}
        elif parts[1:3] == ["v2", "models"] and parts[-1] == "infer":
            if len(parts) == 5:
                return self._infer, {"name": parts[3]}
            if len(parts) == 7 and parts[4] == "versions":
                return self._infer, {"name": parts[3], "version": parts[5]}
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            found = self.handler(scope["path"])
            if found is not None:
                scope["path_params"] = found[1]
                self.arrivals.answering += 1  # its connection sends nothing more until answered
                try:
                    response = await found[0](Request(scope, receive))
                    await response(scope, receive, send)
                finally:
                    self.arrivals.answering -= 1
                return
        await self.app(scope, receive, send)


__all__ = ["PredictionApp", "build_http_app"]
