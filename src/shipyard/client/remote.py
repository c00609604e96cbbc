"""The tracking API over HTTP: :class:`RemoteTracking` talks to a Shipyard server.

It implements :class:`~shipyard.tracking.api.TrackingAPI` with the same results and the same
exceptions as the in-process service: values are checked with the service's own validation before
they are sent (so a bad value fails identically, without a round trip), responses are decoded into
the model dataclasses, and error responses are raised again as the :mod:`shipyard.errors` class the
server named. A server that cannot be reached is :class:`~shipyard.errors.BackendUnavailable`.

Connection failures are retried a few times with a short backoff for reads and metric batches
(idempotent: every batch carries a ``batch_id``); other writes are retried only when the
connection could not be opened at all, so nothing was sent.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import httpx

from shipyard.client import wire
from shipyard.errors import BackendUnavailable, CorruptArtifact, InvalidInput
from shipyard.storage.artifacts.content import file_digest, write_atomically
from shipyard.tracking import validation
from shipyard.tracking.api import DEFAULT_MAX_RESULTS, MetricPoint, TrackingAPI
from shipyard.tracking.model import (
    Artifact,
    DatasetInfo,
    Direction,
    Experiment,
    LineageGraph,
    Metric,
    Run,
    RunComparison,
    RunDataset,
    RunEnvironment,
    RunStatus,
)

T = TypeVar("T")

API_PREFIX = "/api/v1"
DIGEST_HEADER = "X-Content-SHA256"
CHUNK = 1 << 20
ATTEMPTS = 3
BACKOFF = 0.1  # seconds before the 2nd attempt; multiplied by 4 for each further one


def _segment(value: str) -> str:
    """One URL path segment; ``.``/``..`` are escaped so no HTTP library collapses them."""
    quoted = quote(value, safe="")
    return quoted.replace(".", "%2E") if set(value) == {"."} else quoted


def _path(value: str) -> str:
    """A slash-separated path (artifact path) with each segment escaped as by :func:`_segment`."""
    return "/".join(_segment(part) for part in value.split("/"))


class RemoteTracking(TrackingAPI):
    """:class:`~shipyard.tracking.api.TrackingAPI` over one keep-alive HTTP connection pool."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.url + API_PREFIX, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteTracking:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteTracking({self.url!r})"

    # -- experiments ------------------------------------------------------------------------------

    def create_experiment(
        self, name: str, description: str = "", tags: Mapping[str, str] | None = None
    ) -> Experiment:
        body = {"name": name, "description": description, "tags": validation.tags(tags or {})}
        return wire.experiment(self._json("POST", "/experiments", json=body))

    def get_experiment(self, name_or_id: str) -> Experiment:
        if not isinstance(name_or_id, str) or not name_or_id:
            raise InvalidInput("experiment must be a non-empty name or id", field="experiment")
        return wire.experiment(self._json("GET", f"/experiments/{_segment(name_or_id)}"))

    def list_experiments(self) -> list[Experiment]:
        return [wire.experiment(e) for e in self._json("GET", "/experiments")["experiments"]]

    # -- runs -------------------------------------------------------------------------------------

    def create_run(
        self,
        experiment: str,
        *,
        name: str | None = None,
        user: str | None = None,
        parent_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        environment: RunEnvironment | None = None,
    ) -> Run:
        """As the service does; ``user`` is ignored: the server records the token's user."""
        body = {
            "experiment": experiment,
            "name": name,
            "parent_id": parent_id,
            "tags": validation.tags(tags or {}),
            "environment": wire.environment_json(environment) if environment else None,
        }
        return wire.run(self._json("POST", "/runs", json=body))

    def get_run(self, run_id: str) -> Run:
        return wire.run(self._json("GET", f"/runs/{_segment(run_id)}"))

    def end_run(self, run_id: str, status: RunStatus = RunStatus.FINISHED) -> Run:
        return wire.run(self._json("POST", f"/runs/{_segment(run_id)}/end", json={"status": str(status)}))

    def update_run(self, run_id: str, *, name: str | None = None, note: str | None = None) -> Run:
        return wire.run(self._json("PATCH", f"/runs/{_segment(run_id)}", json={"name": name, "note": note}))

    def log_params(self, run_id: str, params: Mapping[str, object]) -> None:
        clean = validation.params(params)
        if clean:
            self._send("POST", f"/runs/{_segment(run_id)}/params", json={"params": clean})

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint], *, batch_id: str | None = None) -> int:
        clean = validation.metric_points(points)
        if not clean:
            return 0
        body = {"batch_id": batch_id or uuid.uuid4().hex, "points": wire.metric_points_json(clean)}
        stored: int = self._json("POST", f"/runs/{_segment(run_id)}/metrics", json=body, idempotent=True)[
            "stored"
        ]
        return stored

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        return wire.metric_history(
            self._json("GET", f"/runs/{_segment(run_id)}/metrics", params={"key": key})
        )

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        self._send("POST", f"/runs/{_segment(run_id)}/tags", json={"tags": validation.tags(tags)})

    def delete_tag(self, run_id: str, key: str) -> None:
        self._send("DELETE", f"/runs/{_segment(run_id)}/tags", params={"key": key})

    # -- data and artifacts -----------------------------------------------------------------------

    def log_dataset(
        self,
        run_id: str,
        info: DatasetInfo,
        *,
        context: str = "training",
        direction: Direction = Direction.INPUT,
    ) -> RunDataset:
        body = {"dataset": wire.dataset_info_json(info), "context": context, "direction": str(direction)}
        return wire.run_dataset(self._json("POST", f"/runs/{_segment(run_id)}/datasets", json=body))

    def run_datasets(self, run_id: str) -> list[RunDataset]:
        return [
            wire.run_dataset(d) for d in self._json("GET", f"/runs/{_segment(run_id)}/datasets")["datasets"]
        ]

    def log_artifact(self, run_id: str, source: Path, path: str) -> Artifact:
        """Upload the file ``source`` (streamed, with its digest, which the server checks)."""
        source = Path(source)
        if not source.is_file():
            raise InvalidInput(f"artifact source {str(source)!r} is not a file", field="source")
        digest = file_digest(source).digest
        url = f"/runs/{_segment(run_id)}/artifacts/{_path(path)}"
        headers = {
            DIGEST_HEADER: digest,
            "Content-Length": str(source.stat().st_size),
            "Content-Type": "application/octet-stream",
        }

        def upload() -> httpx.Response:
            with open(source, "rb") as stream:
                return self._http.put(url, content=iter(lambda: stream.read(CHUNK), b""), headers=headers)

        return wire.artifact(self._checked(self._retrying("PUT", url, upload, idempotent=False)).json())

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        return [
            wire.artifact(a) for a in self._json("GET", f"/runs/{_segment(run_id)}/artifacts")["artifacts"]
        ]

    def download_artifact(self, run_id: str, path: str, dest: Path) -> Path:
        return self._download(f"/runs/{_segment(run_id)}/artifacts/{_path(path)}", Path(dest), None)

    def download_blob(self, digest: str, dest: Path) -> Path:
        if not isinstance(digest, str):
            raise InvalidInput(f"digest must be a string, got {type(digest).__name__}", field="digest")
        expected = digest.lower() if ":" in digest else f"sha256:{digest.lower()}"
        return self._download(f"/blobs/{_segment(digest)}", Path(dest), expected)

    # -- queries ----------------------------------------------------------------------------------

    def search_runs(
        self,
        experiments: Sequence[str] | None = None,
        filter: str = "",
        order_by: Sequence[str] = (),
        max_results: int = DEFAULT_MAX_RESULTS,
        offset: int = 0,
    ) -> list[Run]:
        if isinstance(order_by, str):
            order_by = [order_by]
        body = {
            "experiments": _experiment_list(experiments),
            "filter": filter or "",
            "order_by": list(order_by),
            "max_results": max_results,
            "offset": offset,
        }
        return [wire.run(r) for r in self._json("POST", "/runs/search", json=body, idempotent=True)["runs"]]

    def count_runs(self, experiments: Sequence[str] | None = None, filter: str = "") -> int:
        body = {"experiments": _experiment_list(experiments), "filter": filter or ""}
        return int(self._json("POST", "/runs/count", json=body, idempotent=True)["count"])

    def compare_runs(self, run_ids: Sequence[str]) -> RunComparison:
        body = {"run_ids": list(run_ids)}
        return wire.comparison(self._json("POST", "/runs/compare", json=body, idempotent=True))

    def lineage(self, subject: str, depth: int = 1) -> LineageGraph:
        return wire.lineage(self._json("GET", "/lineage", params={"subject": subject, "depth": depth}))

    # -- HTTP -------------------------------------------------------------------------------------

    def _json(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: Mapping[str, str | int] | None = None,
        idempotent: bool | None = None,
    ) -> wire.Json:
        body: wire.Json = self._send(method, path, json=json, params=params, idempotent=idempotent).json()
        return body

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: Mapping[str, str | int] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        safe = method == "GET" if idempotent is None else idempotent
        response = self._retrying(
            method, path, lambda: self._http.request(method, path, json=json, params=params), idempotent=safe
        )
        return self._checked(response)

    def _checked(self, response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        try:
            body: object = response.json()
        except ValueError:
            body = None
        raise wire.error(response.status_code, body, f"{response.request.method} {response.request.url}")

    def _retrying(self, method: str, path: str, call: Callable[[], T], *, idempotent: bool) -> T:
        """Run ``call``, retrying transport failures (all of them if ``idempotent``, else only
        failures to connect, when nothing was sent) and turning the last into BackendUnavailable."""
        for attempt in range(ATTEMPTS):
            try:
                return call()
            except httpx.TransportError as exc:
                retry = idempotent or isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if not retry or attempt == ATTEMPTS - 1:
                    raise self._unavailable(method, path, exc) from None
            time.sleep(BACKOFF * 4**attempt)
        raise AssertionError("unreachable")

    def _unavailable(self, method: str, path: str, exc: httpx.TransportError) -> BackendUnavailable:
        if isinstance(exc, httpx.TimeoutException):
            reason = f"no answer within {self._http.timeout.read}s"
        else:
            reason = str(exc) or type(exc).__name__
        return BackendUnavailable(
            f"cannot reach the Shipyard server at {self.url} ({method} {path}): {reason}"
        )

    def _download(self, path: str, dest: Path, expected: str | None) -> Path:
        """Stream to a temporary file next to ``dest``, verify the digest, then rename into place;
        on any failure ``dest`` is left as it was."""
        return self._retrying("GET", path, lambda: self._download_once(path, dest, expected), idempotent=True)

    def _download_once(self, path: str, dest: Path, expected: str | None) -> Path:
        with self._http.stream("GET", path) as response:
            if not response.is_success:
                response.read()
                self._checked(response)
            wanted = expected or response.headers.get(DIGEST_HEADER, "").lower() or None
            if wanted is None:
                raise CorruptArtifact(
                    f"the server sent no {DIGEST_HEADER} header; cannot verify", field="digest"
                )

            def verify(received: str) -> None:
                if received != wanted:
                    raise CorruptArtifact(
                        f"downloaded content is corrupt: expected {wanted}, received {received}",
                        field="digest",
                    )

            return write_atomically(response.iter_bytes(CHUNK), dest, verify)


def _experiment_list(experiments: Sequence[str] | str | None) -> list[str] | None:
    if experiments is None:
        return None
    return [experiments] if isinstance(experiments, str) else list(experiments)
