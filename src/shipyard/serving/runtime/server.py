"""The prediction server's state and its request path, independent of the HTTP framework:
route by weight, check the signature, fetch online features, micro-batch, compare canary and
shadow answers, count, and log. :mod:`shipyard.serving.runtime.http` puts routes in front of it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.core.clock import now_ms
from shipyard.errors import (
    BackendUnavailable,
    CorruptArtifact,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ShipyardError,
    Unauthenticated,
)
from shipyard.serving.inference_log import Entry, InferenceLog
from shipyard.serving.model import Target
from shipyard.serving.ports import (
    DeploymentSource,
    ModelSource,
    OnlineFeatures,
    PredictAuthorizer,
    WindowSink,
)
from shipyard.serving.runtime.fleet import Arrival, Arrivals, Fleet, Loaded
from shipyard.serving.runtime.metrics import ServerMetrics
from shipyard.serving.runtime.payloads import Columns, Rows, check_columns
from shipyard.serving.runtime.routing import Route, RouteTable, TokenCache
from shipyard.serving.windows import WindowCounter

log = logging.getLogger("shipyard.serve")


@dataclass(frozen=True)
class ServeConfig:
    deployments: tuple[str, ...] = ()  # empty: every deployment the source has
    max_body_bytes: int = 1_048_576
    max_batch_rows: int = 64
    max_wait_ms: float = 1.0
    memory_cap_mb: float = 2048.0
    poll_seconds: float = 0.5
    window_seconds: float = 5.0
    token_ttl_seconds: float = 10.0
    threads: int = 0  # model calls in this many threads; 0: on the event loop (fastest for small models)
    preload: int = 16  # with at most this many deployments, load their versions before ready
    log_flush_seconds: float = 2.0
    log_flush_rows: int = 5_000
    spill_dir: Path = Path(".shipyard/spill/inference-log")


@dataclass
class Answer:
    deployment: str
    model: str
    version: int
    request_id: str
    outputs: list[Any]
    output_names: tuple[str, ...]
    single: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


STATUS: dict[type[ShipyardError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Unauthenticated: 401,
    PermissionDenied: 403,
    BackendUnavailable: 503,
    CorruptArtifact: 500,
}


def status_of(exc: ShipyardError) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


class PredictionServer:
    def __init__(
        self,
        models: ModelSource,
        deployments: DeploymentSource,
        *,
        config: ServeConfig | None = None,
        authorizer: PredictAuthorizer | None = None,
        features: OnlineFeatures | None = None,
        inference_log: InferenceLog | None = None,
        windows: WindowSink | None = None,
    ) -> None:
        self.config = config or ServeConfig()
        self.models = models
        self.source = deployments
        self.tokens = None if authorizer is None else TokenCache(authorizer, self.config.token_ttl_seconds)
        self.features = features
        self.log = inference_log
        self.sink = windows
        self.metrics = ServerMetrics()
        self.arrivals = Arrivals()
        if inference_log is not None:
            self.metrics.watch_log(lambda: dict(inference_log.stats), inference_log.pending)
        self.executor = (
            ThreadPoolExecutor(self.config.threads, thread_name_prefix="shipyard-predict")
            if self.config.threads > 0
            else None
        )
        self.fleet = Fleet(
            models,
            memory_cap=int(self.config.memory_cap_mb * 1024 * 1024),
            executor=self.executor,
            max_batch_rows=self.config.max_batch_rows,
            max_wait=self.config.max_wait_ms / 1000,
            on_batch=lambda m, v, rows: self._batch_hist(m, v).observe(rows),
            on_load=self._loaded,
            on_evict=self.metrics.evictions.inc,
            on_size=self._sized,
            arrivals=self.arrivals,
        )
        self.table = RouteTable(only=self.config.deployments)
        self.counter = WindowCounter()
        self.rng = random.Random()
        self.ready = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._children: dict[tuple[str, int], Any] = {}

    # -- lifecycle ------------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Reload the deployment table if the source's revision moved; True if it did."""
        revision = self.source.revision()
        if revision == self.table.revision:
            return False
        self.table.update(self.source.active(), revision)
        missing = set(self.config.deployments) - set(self.table.routes)
        if missing and not self.ready:
            raise InvalidInput(
                f"no active deployment named {', '.join(sorted(map(repr, missing)))}", field="deployment"
            )
        return True

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.refresh)
        if self.log is not None:
            self.log.start()
        if len(self.table.routes) <= self.config.preload:
            for route in list(self.table.routes.values()):
                for target in route.deployment.targets:
                    if target.weight > 0 or target.role == "shadow":
                        await self.fleet.get(target.model, target.version)
        self.ready = True
        self._spawn(self._poll())
        if self.sink is not None:
            self._spawn(self._report())
        if self.metrics.shared:
            self._spawn(self._sync_metrics())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.report_windows()
        self.fleet.close()
        if self.log is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.log.close)
        self.metrics.sync()
        if self.executor is not None:
            self.executor.shutdown(wait=False)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.config.poll_seconds)
            try:
                await loop.run_in_executor(None, self.refresh)
            except Exception:  # the store is down: keep serving the last table
                log.warning("could not refresh deployments", exc_info=True)

    async def _report(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.config.window_seconds)
            await loop.run_in_executor(None, self.report_windows)

    async def _sync_metrics(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.metrics.sync()

    def report_windows(self) -> None:
        windows = self.counter.take()
        if windows and self.sink is not None:
            try:
                self.sink.record(windows)
            except Exception:  # lost figures for one window never stop serving
                log.warning("could not record version windows", exc_info=True)

    def _loaded(self, seconds: float) -> None:
        self.metrics.loads.inc()
        self.metrics.load_seconds.observe(seconds)

    def _sized(self, versions: int, size: int) -> None:
        self.metrics.loaded.set(versions)
        self.metrics.loaded_bytes.set(size)

    def _batch_hist(self, model: str, version: int) -> Any:
        return self.metrics.batch_size.labels(model, str(version))

    # -- the request path -----------------------------------------------------------------------

    def arrive(self) -> Arrival:
        """Count a prediction request as on its way to a batcher (see :class:`Arrivals`)."""
        return self.arrivals.arrive()

    async def open(self, name: str | None, secret: str) -> Route:
        """The route of deployment ``name`` for the caller holding ``secret``. A caller without a
        valid token learns nothing of what is served: Unauthenticated comes before NotFound (a
        public deployment needs no token). ``name`` None: the server's only deployment."""
        route = self.table.routes.get(name) if name is not None else self._only()
        if route is None:
            await self.authenticate(secret)
            if name is None:
                raise NotFound(
                    f"this server serves {len(self.table.routes)} deployments; "
                    "POST to /v1/deployments/<name>/invocations",
                    field="deployment",
                )
            return self.table.get(name)  # NotFound
        await self.authorize(route, secret)
        return route

    def _only(self) -> Route | None:
        routes = self.table.routes
        return next(iter(routes.values())) if len(routes) == 1 else None

    async def authenticate(self, secret: str) -> None:
        """Unauthenticated unless ``secret`` is a valid token (a server that checks no token
        has nothing to refuse)."""
        if self.tokens is not None and not self.tokens.known(secret):
            await asyncio.get_running_loop().run_in_executor(None, self.tokens.authenticate, secret)

    async def authorize(self, route: Route, secret: str) -> None:
        if route.deployment.public:
            return
        if self.tokens is None:
            raise BackendUnavailable(
                f"deployment {route.deployment.name!r} needs a token but this server checks none",
                field="token",
            )
        if self.tokens.cached(secret, route.deployment.model) is None:
            await asyncio.get_running_loop().run_in_executor(
                None, self.tokens.check, secret, route.deployment.model
            )

    async def predict(
        self,
        route: Route,
        rows: Rows,
        *,
        request_id: str | None = None,
        version: int | None = None,
        arrival: Arrival | None = None,
    ) -> Answer:
        began = time.perf_counter()
        deployment = route.deployment
        target = route.target(version) if version is not None else route.pick(self.rng)
        request_id = request_id or uuid.uuid4().hex
        key = (deployment.name, target.model, target.version, target.role)
        labels = (deployment.name, str(target.version))
        try:
            fetched = await self._features(route, rows)
            columns = rows.columns if fetched is None else {**fetched, **rows.columns}
            item = await self.fleet.get(target.model, target.version)
            checked = check_columns(item.specs, columns)
            outputs = await item.batcher.submit(checked, rows.n, arrival)
        except ShipyardError as exc:
            self._error(labels, key, began, status_of(exc))
            raise
        except Exception:
            self._error(labels, key, began, 500)
            raise
        latency = time.perf_counter() - began
        self.metrics.requests.labels(*labels).inc()
        self.metrics.latency.labels(*labels).observe(latency)
        self.counter.observe(key, latency * 1000)
        self._log(request_id, deployment.name, target, latency, checked, fetched, outputs)
        if route.shadow is not None and target.role == "primary":
            self._spawn(self._compare(route, route.shadow, columns, rows.n, outputs, request_id, fetched))
        elif target.role == "challenger" and deployment.strategy == "canary":
            self._spawn(self._compare(route, route.primary, columns, rows.n, outputs, request_id, fetched))
        return Answer(
            deployment.name,
            target.model,
            target.version,
            request_id,
            outputs,
            tuple(name for name, _ in item.outputs),
            single=rows.single,
        )

    def _error(self, labels: tuple[str, str], key: Any, began: float, status: int | str) -> None:
        self.metrics.errors.labels(*labels, str(status)).inc()
        self.counter.observe(key, (time.perf_counter() - began) * 1000, error=True)

    async def _features(self, route: Route, rows: Rows) -> Columns | None:
        service = route.deployment.feature_service
        if service is None and rows.entities:
            raise InvalidInput(
                f"deployment {route.deployment.name!r} reads no feature service: send the model's "
                "inputs, not entities",
                field="entities",
            )
        if service is None or not rows.entities:
            return None
        if self.features is None:
            raise BackendUnavailable(
                f"deployment {route.deployment.name!r} reads feature service {service!r} "
                "but this server has no feature store",
                field="entities",
            )
        features = self.features
        entities = rows.entities
        response = await asyncio.get_running_loop().run_in_executor(
            None, lambda: features.get_online_features(service=service, entity_rows=entities)
        )
        return {name: list(values) for name, values in response.columns.items()}

    def _log(
        self,
        request_id: str,
        deployment: str,
        target: Target,
        latency: float,
        inputs: Mapping[str, list[Any]],
        features: Columns | None,
        outputs: list[Any],
    ) -> None:
        if self.log is not None:
            self.log.append(
                Entry(
                    request_id, now_ms(), deployment, target.model, target.version, target.role,
                    latency * 1000, inputs, features, outputs,
                )
            )  # fmt: skip

    async def _compare(
        self,
        route: Route,
        other: Target,
        columns: Columns,
        n: int,
        answered: list[Any],
        request_id: str,
        fetched: Columns | None,
    ) -> None:
        """Run ``other`` on the same rows; count agreement on the side that is being judged
        (the shadow, or the canary's challenger); log the shadow's answers."""
        began = time.perf_counter()
        deployment = route.deployment
        judged = other if other.role == "shadow" else next(t for t in route.live if t.role == "challenger")
        key = (deployment.name, judged.model, judged.version, judged.role)
        try:
            item: Loaded = await self.fleet.get(other.model, other.version)
            checked = check_columns(item.specs, columns)
            outputs = await item.batcher.submit(checked, n)
        except Exception:  # a failing shadow never touches the caller's answer
            self.metrics.shadow_errors.labels(deployment.name).inc()
            if other.role == "shadow":
                self.counter.observe(key, (time.perf_counter() - began) * 1000, error=True)
            return
        latency = time.perf_counter() - began
        if other.role == "shadow":
            self.counter.observe(key, latency * 1000)
            self._log(request_id, deployment.name, other, latency, checked, fetched, outputs)
        agreed = sum(_same(a, b) for a, b in zip(answered, outputs, strict=True))
        for i in range(n):
            self.counter.compare(key, i < agreed)
