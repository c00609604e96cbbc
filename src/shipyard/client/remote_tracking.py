"""The tracking API over HTTP: :class:`RemoteTracking` talks to a Shipyard server.

It implements :class:`~shipyard.tracking.api.TrackingAPI` with the same results and the same
exceptions as the in-process service: values are checked with the service's own validation before
they are sent (so a bad value fails identically, without a round trip) and responses are decoded
into the model dataclasses. Errors, retries and transfers are :mod:`shipyard.client.http`'s; metric
batches are retried like reads (idempotent: every batch carries a ``batch_id``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from shipyard.client import tracking_wire as wire
from shipyard.client.http import RemoteClient, path_of, segment
from shipyard.errors import InvalidInput
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

#: Metric points sent in one request (the server's ``max_metric_points`` defaults to 50,000).
REQUEST_POINTS = 10_000


class RemoteTracking(RemoteClient, TrackingAPI):
    """:class:`~shipyard.tracking.api.TrackingAPI` over a :class:`~shipyard.client.http.ServerConnection`
    (``RemoteTracking(url, token)`` opens its own; ``RemoteTracking(connection)`` shares one)."""

    # -- experiments ------------------------------------------------------------------------------

    def create_experiment(
        self, name: str, description: str = "", tags: Mapping[str, str] | None = None
    ) -> Experiment:
        body = {"name": name, "description": description, "tags": validation.tags(tags or {})}
        return wire.experiment(self.connection.json("POST", "/experiments", json=body))

    def get_experiment(self, name_or_id: str) -> Experiment:
        if not isinstance(name_or_id, str) or not name_or_id:
            raise InvalidInput("experiment must be a non-empty name or id", field="experiment")
        return wire.experiment(self.connection.json("GET", f"/experiments/{segment(name_or_id)}"))

    def list_experiments(self) -> list[Experiment]:
        return [wire.experiment(e) for e in self.connection.json("GET", "/experiments")["experiments"]]

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
        params: Mapping[str, object] | None = None,
    ) -> Run:
        """As the service does; ``user`` is ignored: the server records the token's user."""
        body = {
            "experiment": experiment,
            "name": name,
            "parent_id": parent_id,
            "tags": validation.tags(tags or {}),
            "params": validation.params(params or {}),
            "environment": wire.environment_json(environment) if environment else None,
        }
        return wire.run(self.connection.json("POST", "/runs", json=body))

    def get_run(self, run_id: str) -> Run:
        return wire.run(self.connection.json("GET", f"/runs/{segment(run_id)}"))

    def end_run(
        self,
        run_id: str,
        status: RunStatus = RunStatus.FINISHED,
        *,
        points: Sequence[MetricPoint] = (),
        batch_id: str | None = None,
    ) -> Run:
        """The last ``points`` travel with the end when they fit one request
        (:data:`REQUEST_POINTS`); more are logged first, as :meth:`log_metrics` does."""
        body: dict[str, object] = {"status": str(status)}
        if len(points) > REQUEST_POINTS:
            self.log_metrics(run_id, points, batch_id=batch_id)
        elif points:
            body["points"] = wire.metric_points_json(validation.metric_points(points))
            body["batch_id"] = batch_id or uuid.uuid4().hex
        return wire.run(self.connection.json("POST", f"/runs/{segment(run_id)}/end", json=body))

    def update_run(self, run_id: str, *, name: str | None = None, note: str | None = None) -> Run:
        return wire.run(
            self.connection.json("PATCH", f"/runs/{segment(run_id)}", json={"name": name, "note": note})
        )

    def log_params(self, run_id: str, params: Mapping[str, object]) -> None:
        clean = validation.params(params)
        if clean:
            self.connection.send("POST", f"/runs/{segment(run_id)}/params", json={"params": clean})

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint], *, batch_id: str | None = None) -> int:
        """Points travel in requests of at most :data:`REQUEST_POINTS` (under the server's
        ``max_metric_points``); each request has its own batch id, so each can be retried."""
        clean = validation.metric_points(points)
        if not clean:
            return 0
        batch_id = batch_id or uuid.uuid4().hex
        stored = 0
        for start in range(0, len(clean), REQUEST_POINTS):
            part = batch_id if len(clean) <= REQUEST_POINTS else f"{batch_id[:52]}-{start // REQUEST_POINTS}"
            body = {
                "batch_id": part,
                "points": wire.metric_points_json(clean[start : start + REQUEST_POINTS]),
            }
            stored += int(
                self.connection.json("POST", f"/runs/{segment(run_id)}/metrics", json=body, idempotent=True)[
                    "stored"
                ]
            )
        return stored

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        return wire.metric_history(
            self.connection.json("GET", f"/runs/{segment(run_id)}/metrics", params={"key": key})
        )

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        self.connection.send("POST", f"/runs/{segment(run_id)}/tags", json={"tags": validation.tags(tags)})

    def delete_tag(self, run_id: str, key: str) -> None:
        self.connection.send("DELETE", f"/runs/{segment(run_id)}/tags", params={"key": key})

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
        return wire.run_dataset(self.connection.json("POST", f"/runs/{segment(run_id)}/datasets", json=body))

    def run_datasets(self, run_id: str) -> list[RunDataset]:
        return [
            wire.run_dataset(d)
            for d in self.connection.json("GET", f"/runs/{segment(run_id)}/datasets")["datasets"]
        ]

    def log_artifact(self, run_id: str, source: Path, path: str) -> Artifact:
        """Upload the file ``source`` (streamed, with its digest, which the server checks)."""
        source = Path(source)
        if not source.is_file():
            raise InvalidInput(f"artifact source {str(source)!r} is not a file", field="source")
        url = f"/runs/{segment(run_id)}/artifacts/{path_of(path)}"
        return wire.artifact(self.connection.upload(url, source).json())

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        return [
            wire.artifact(a)
            for a in self.connection.json("GET", f"/runs/{segment(run_id)}/artifacts")["artifacts"]
        ]

    def download_artifact(self, run_id: str, path: str, dest: Path) -> Path:
        return self.connection.download(
            f"/runs/{segment(run_id)}/artifacts/{path_of(path)}", Path(dest), None
        )

    def download_blob(self, digest: str, dest: Path) -> Path:
        if not isinstance(digest, str):
            raise InvalidInput(f"digest must be a string, got {type(digest).__name__}", field="digest")
        expected = digest.lower() if ":" in digest else f"sha256:{digest.lower()}"
        return self.connection.download(f"/blobs/{segment(digest)}", Path(dest), expected)

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
        return [
            wire.run(r)
            for r in self.connection.json("POST", "/runs/search", json=body, idempotent=True)["runs"]
        ]

    def count_runs(self, experiments: Sequence[str] | None = None, filter: str = "") -> int:
        body = {"experiments": _experiment_list(experiments), "filter": filter or ""}
        return int(self.connection.json("POST", "/runs/count", json=body, idempotent=True)["count"])

    def compare_runs(self, run_ids: Sequence[str]) -> RunComparison:
        body = {"run_ids": list(run_ids)}
        return wire.comparison(self.connection.json("POST", "/runs/compare", json=body, idempotent=True))

    def lineage(self, subject: str, depth: int = 1) -> LineageGraph:
        return wire.lineage(
            self.connection.json("GET", "/lineage", params={"subject": subject, "depth": depth})
        )


def _experiment_list(experiments: Sequence[str] | str | None) -> list[str] | None:
    if experiments is None:
        return None
    return [experiments] if isinstance(experiments, str) else list(experiments)
