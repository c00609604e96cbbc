"""A run being recorded: the object ``start_run`` returns.

Use it as a context manager: leaving the block flushes buffered metrics and ends the run as
FINISHED, or as FAILED (KILLED on Ctrl-C) if an exception escapes; the exception still propagates.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path, PurePath, PurePosixPath
from types import TracebackType
from typing import TYPE_CHECKING, Any

from shipyard.client.buffer import MetricBuffer
from shipyard.errors import InvalidInput
from shipyard.features.model import TrainingDataset
from shipyard.storage.artifacts.base import check_key
from shipyard.tracking import tags as system_tags
from shipyard.tracking import validation
from shipyard.tracking.datasets import describe
from shipyard.tracking.model import Artifact, Column, DatasetInfo, Direction, Run, RunDataset, RunStatus

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.client.client import Client


class ActiveRun:
    def __init__(self, client: Client, run: Run) -> None:
        self._client = client
        self._tracking = client.tracking
        self.id = run.id
        self.experiment_id = run.experiment_id
        self.name = run.name
        self._ended = False
        self._metric_keys: set[str] = set()
        settings = client.settings
        self._buffer = MetricBuffer(
            self._send_metrics,
            flush_size=settings.metric_flush_size,
            flush_interval=settings.metric_flush_interval,
            # SQLite takes one writer at a time; PostgreSQL and a server take batches side by side.
            senders=1 if settings.single_writer else 2,
        )

    def _send_metrics(self, points: list[tuple[str, float, int, int]], batch_id: str) -> None:
        self._tracking.log_metrics(self.id, points, batch_id=batch_id)

    def __repr__(self) -> str:
        return f"<ActiveRun {self.name!r} id={self.id}>"

    # -- context manager --------------------------------------------------------------------
    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.end(RunStatus.FINISHED)
        else:
            status = RunStatus.KILLED if issubclass(exc_type, KeyboardInterrupt) else RunStatus.FAILED
            self.end(status)

    @property
    def ended(self) -> bool:
        return self._ended

    def end(self, status: RunStatus | str = RunStatus.FINISHED) -> Run:
        """Send buffered metrics and end the run; the last batch travels with the end, in one
        transaction. Ending an ended run again is a no-op."""
        status = RunStatus(str(status).upper())
        if self._ended:
            return self.get()
        last = self._buffer.seal()  # everything but the last batch is sent first
        batch_id, points = last if last is not None else (None, [])
        ended = self._tracking.end_run(self.id, status, points=points, batch_id=batch_id)
        if last is not None:
            self._buffer.sent(last[0])  # it stays pending (sent again later) if the end failed
        self._ended = True
        self._client._forget(self)
        return ended

    # -- logging ------------------------------------------------------------------------------
    def log_param(self, key: str, value: object) -> None:
        self._tracking.log_params(self.id, {key: value})

    def log_params(self, params: Mapping[str, object]) -> None:
        self._tracking.log_params(self.id, params)

    def log_metric(self, key: str, value: float, step: int = 0, timestamp: int | None = None) -> None:
        """Record one point. Buffered: it reaches the store within the flush interval, when the
        buffer fills, or when the run ends."""
        if type(value) is not float:
            value = validation.metric_value(key, value)
        if key not in self._metric_keys:
            validation.key("metric", key)
            self._metric_keys.add(key)
        if type(step) is not int:
            step = validation.metric_points([(key, value, step, 0)])[0][2]
        self._buffer.add((key, value, step, time.time_ns() // 1_000_000 if timestamp is None else timestamp))

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0, timestamp: int | None = None) -> None:
        ts = time.time_ns() // 1_000_000 if timestamp is None else timestamp
        for key, value in metrics.items():
            self.log_metric(key, value, step, ts)

    def flush(self) -> None:
        """Send buffered metric points now."""
        self._buffer.flush()

    def set_tag(self, key: str, value: str) -> None:
        self._tracking.set_tags(self.id, {key: value})

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self._tracking.set_tags(self.id, tags)

    def set_note(self, text: str) -> None:
        self._tracking.update_run(self.id, note=text)

    def log_dataset(
        self, data: Any, name: str, *, context: str = "training", output: bool = False
    ) -> RunDataset:
        """Record ``data`` (DataFrame, Arrow table, Parquet/CSV path, or a saved feature store
        TrainingDataset) as an input of this run, or as an output with ``output=True``. Only its
        description is stored, not the data."""
        if isinstance(data, TrainingDataset):
            info = _training_dataset_info(data, name)
            if data.feature_service and not output:
                self.set_tag(system_tags.FEATURE_SERVICE, data.feature_service)
        else:
            info = describe(data, name, s3_endpoint_url=self._client.settings.s3_endpoint_url)
        direction = Direction.OUTPUT if output else Direction.INPUT
        return self._tracking.log_dataset(self.id, info, context=context, direction=direction)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> Artifact:
        """Store a file as an output of this run, under ``artifact_path`` (default: its name; a
        value ending in ``/`` is a folder to put it in)."""
        source = Path(path)
        if not source.is_file():
            raise InvalidInput(f"artifact {str(source)!r} is not a file", field="path")
        if artifact_path is None:
            artifact_path = source.name
        elif artifact_path.endswith("/"):
            artifact_path += source.name
        return self._tracking.log_artifact(self.id, source, artifact_path)

    def log_text(self, text: str, artifact_path: str) -> Artifact:
        """Store ``text`` (UTF-8) as the artifact ``artifact_path``, e.g. ``"reports/summary.md"``."""
        if not isinstance(text, str):
            raise InvalidInput(f"log_text takes a string, got {type(text).__name__}", field="text")
        return self._log_bytes(text.encode("utf-8"), artifact_path)

    def log_dict(self, data: Mapping[str, Any], artifact_path: str) -> Artifact:
        """Store ``data`` as JSON (sorted keys, indented) under ``artifact_path``."""
        try:
            text = json.dumps(data, indent=2, sort_keys=True, default=_jsonable)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"log_dict: data is not JSON-serialisable: {exc}", field="data") from None
        return self._log_bytes(text.encode("utf-8"), artifact_path)

    def _log_bytes(self, data: bytes, artifact_path: str) -> Artifact:
        check_key(artifact_path)
        with tempfile.TemporaryDirectory(prefix="shipyard-") as folder:
            source = Path(folder) / PurePosixPath(artifact_path).name
            source.write_bytes(data)
            return self._tracking.log_artifact(self.id, source, artifact_path)

    def log_artifacts(self, folder: str | Path, artifact_path: str | None = None) -> list[Artifact]:
        """Store every file under ``folder``, keeping relative paths (under ``artifact_path``)."""
        root = Path(folder)
        if not root.is_dir():
            raise InvalidInput(f"artifact folder {str(root)!r} is not a folder", field="folder")
        prefix = (artifact_path.rstrip("/") + "/") if artifact_path else ""
        return [
            self._tracking.log_artifact(self.id, f, prefix + f.relative_to(root).as_posix())
            for f in sorted(root.rglob("*"))
            if f.is_file()
        ]

    def log_model(
        self, model: object, name: str = "model", *, input_example: pd.DataFrame, flavor: str | None = None
    ) -> Artifact:
        """Package ``model`` (flavor detected from its type unless given; signature inferred from
        ``input_example``, a few training rows) and store the package as the artifact ``name``."""
        from shipyard.packaging.package import save_model

        check_key(name)
        with tempfile.TemporaryDirectory(prefix="shipyard-model-") as folder:
            package = Path(folder) / "model.shipyard.zip"
            save_model(model, package, input_example=input_example, flavor=flavor)
            return self.log_artifact(package, name)

    def get(self) -> Run:
        """The run as stored now (flushes buffered metrics first)."""
        if not self._ended:
            self.flush()
        return self._tracking.get_run(self.id)


def _jsonable(value: object) -> object:
    """numpy scalars and arrays, paths, sets and datetimes, as JSON understands them."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _training_dataset_info(dataset: TrainingDataset, name: str) -> DatasetInfo:
    """A saved training dataset as tracking sees it: its Parquet file in the content store."""
    schema = tuple(Column(column, dtype) for column, dtype in dataset.schema)
    return DatasetInfo(name, dataset.digest, schema, dataset.num_rows, dataset.location, "feature_store")
