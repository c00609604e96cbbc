"""The tracking use cases as a protocol.

:class:`~shipyard.tracking.service.TrackingService` implements it in process (embedded mode and
inside the server); the SDK's remote client implements it over HTTP. One contract test suite runs
against both, so local and remote behave the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from shipyard.errors import AlreadyExists, NotFound
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

#: One metric point as logged by the SDK: (key, value, step, timestamp in epoch ms).
MetricPoint = tuple[str, float, int, int]

DEFAULT_MAX_RESULTS = 1000


class TrackingAPI(Protocol):
    # experiments
    def create_experiment(
        self, name: str, description: str = "", tags: Mapping[str, str] | None = None
    ) -> Experiment: ...

    def get_experiment(self, name_or_id: str) -> Experiment: ...

    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment called ``name``, created if missing (safe against a concurrent creator).
        Implementations that subclass this protocol inherit this body."""
        try:
            return self.get_experiment(name)
        except NotFound:
            pass
        try:
            return self.create_experiment(name)
        except AlreadyExists:
            return self.get_experiment(name)

    def list_experiments(self) -> list[Experiment]: ...

    # runs
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
        """A new RUNNING run; its ``tags`` and ``params`` are written in the same transaction."""
        ...

    def get_run(self, run_id: str) -> Run: ...

    def end_run(
        self,
        run_id: str,
        status: RunStatus = RunStatus.FINISHED,
        *,
        points: Sequence[MetricPoint] = (),
        batch_id: str | None = None,
    ) -> Run:
        """End a RUNNING run (ending it again with the same status returns it). ``points`` are
        its last metric points, stored in the same transaction, under ``batch_id`` as
        :meth:`log_metrics` would."""
        ...

    def update_run(self, run_id: str, *, name: str | None = None, note: str | None = None) -> Run: ...

    def log_params(self, run_id: str, params: Mapping[str, object]) -> None: ...

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint], *, batch_id: str | None = None) -> int:
        """Append metric points; returns how many were stored (0 if ``batch_id`` was seen before)."""
        ...

    def metric_history(self, run_id: str, key: str) -> list[Metric]: ...

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None: ...

    def delete_tag(self, run_id: str, key: str) -> None: ...

    # data and artifacts
    def log_dataset(
        self,
        run_id: str,
        info: DatasetInfo,
        *,
        context: str = "training",
        direction: Direction = Direction.INPUT,
    ) -> RunDataset: ...

    def run_datasets(self, run_id: str) -> list[RunDataset]: ...

    def log_artifact(self, run_id: str, source: Path, path: str) -> Artifact:
        """Store the local file ``source`` as the run's artifact ``path``."""
        ...

    def list_artifacts(self, run_id: str) -> list[Artifact]: ...

    def download_artifact(self, run_id: str, path: str, dest: Path) -> Path: ...

    def download_blob(self, digest: str, dest: Path) -> Path: ...

    # queries
    def search_runs(
        self,
        experiments: Sequence[str] | None = None,
        filter: str = "",
        order_by: Sequence[str] = (),
        max_results: int = DEFAULT_MAX_RESULTS,
        offset: int = 0,
    ) -> list[Run]:
        """Runs matching ``filter`` (see :mod:`shipyard.tracking.search`), ordered, one page of
        ``max_results`` starting after ``offset`` matches."""
        ...

    def count_runs(self, experiments: Sequence[str] | None = None, filter: str = "") -> int:
        """How many runs ``search_runs`` would find without a page limit."""
        ...

    def compare_runs(self, run_ids: Sequence[str]) -> RunComparison: ...

    def lineage(self, subject: str, depth: int = 1) -> LineageGraph:
        """``subject`` is a run id, a digest (``sha256:…``) or ``<run id>/<artifact path>``."""
        ...
