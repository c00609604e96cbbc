"""Tracking use cases: experiments, runs, params, metrics, tags, datasets, artifacts, search,
comparison and lineage. One transaction per call; see :mod:`shipyard.tracking.api` for the
contract this class fulfils."""

from __future__ import annotations

import getpass
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, bindparam, delete, func, select, update

from shipyard.core.clock import now_ms, to_datetime
from shipyard.core.ids import is_id, new_id
from shipyard.core.limits import Limits
from shipyard.errors import AlreadyExists, Conflict, InvalidInput, NotFound, ShipyardError
from shipyard.events import log as event_log
from shipyard.storage.artifacts.base import check_key
from shipyard.storage.artifacts.content import Blob, ContentStore, parse_digest
from shipyard.storage.metadata.base import table
from shipyard.storage.metadata.bulk import insert_tuples
from shipyard.storage.metadata.database import Database
from shipyard.storage.metadata.upsert import insert_ignore, upsert
from shipyard.tracking import curves, metric_writes, records, validation
from shipyard.tracking import lineage as lineage_walk
from shipyard.tracking.api import DEFAULT_MAX_RESULTS, MetricPoint, TrackingAPI
from shipyard.tracking.events import RunFinished
from shipyard.tracking.metric_writes import MetricBatch
from shipyard.tracking.model import (
    Artifact,
    DatasetInfo,
    Direction,
    Experiment,
    ExperimentId,
    LineageGraph,
    Metric,
    Run,
    RunComparison,
    RunDataset,
    RunEnvironment,
    RunId,
    RunStatus,
)
from shipyard.tracking.search import build_count, build_search
from shipyard.tracking.search.parser import check_filter_size
from shipyard.tracking.tables import (
    ArtifactRow,
    DatasetRow,
    EnvironmentRow,
    ExperimentRow,
    ParamRow,
    RunDatasetRow,
    RunRow,
    TagRow,
)

exp_t = table(ExperimentRow)
runs_t = table(RunRow)
params_t = table(ParamRow)
tags_t = table(TagRow)
env_t = table(EnvironmentRow)
ds_t = table(DatasetRow)
rd_t = table(RunDatasetRow)
art_t = table(ArtifactRow)

# Statements run on every call of the hot paths are built once (building a select costs more than
# running it on SQLite).
_RUN_STATUS = select(runs_t.c.id, runs_t.c.status).where(runs_t.c.id == bindparam("run_id"))
_EXPERIMENT_BY_NAME = select(exp_t).where(exp_t.c.name == bindparam("name"))
_EXPERIMENT_BY_ID = select(exp_t).where(exp_t.c.id == bindparam("id"))
_END_RUNNING = (
    update(runs_t)
    .where(runs_t.c.id == bindparam("run_id"), runs_t.c.status == RunStatus.RUNNING.value)
    .values(status=bindparam("status"), end_time=bindparam("end_time"))
    .returning(*runs_t.c)
)
_RUN_COLUMNS = [c.name for c in runs_t.c]
#: A run inserted only if the experiment id it names exists: checked and written in one statement.
_INSERT_RUN_IN_EXPERIMENT = (
    runs_t.insert()
    .from_select(
        _RUN_COLUMNS,
        select(
            *[
                exp_t.c.id if c == "experiment_id" else bindparam(c, type_=runs_t.c[c].type)
                for c in _RUN_COLUMNS
            ]
        ).where(exp_t.c.id == bindparam("experiment_id")),
    )
    .execution_options(preserve_rowcount=True)
)
_EXPERIMENT_OF_RUN = (
    select(exp_t).join(runs_t, runs_t.c.experiment_id == exp_t.c.id).where(runs_t.c.id == bindparam("run_id"))
)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def environment_digest(env: RunEnvironment) -> str:
    payload = json.dumps([env.python_version, env.platform, sorted(env.packages.items())])
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()


class TrackingService(TrackingAPI):
    def __init__(
        self,
        db: Database,
        content: ContentStore,
        limits: Limits | None = None,
        lineage_extensions: Sequence[lineage_walk.LineageExtension] = (),
    ) -> None:
        self.db = db
        self.content = content
        self.limits = limits or Limits()
        self.lineage_extensions = tuple(lineage_extensions)
        self._known_environments: set[str] = set()

    # -- experiments -------------------------------------------------------------------------
    def create_experiment(
        self, name: str, description: str = "", tags: Mapping[str, str] | None = None
    ) -> Experiment:
        name = validation.name("experiment", name)
        clean_tags = validation.tags(tags or {})
        validation.at_most(len(clean_tags), self.limits.max_tags, "tags", "max_tags")
        with self.db.write() as conn:
            if conn.execute(_EXPERIMENT_BY_NAME, {"name": name}).first():
                raise AlreadyExists(f"experiment {name!r} already exists", field="name")
            experiment_id, created = new_id(), now_ms()
            if not insert_ignore(
                conn,
                exp_t,
                [
                    {
                        "id": experiment_id,
                        "name": name,
                        "description": description,
                        "tags": clean_tags,
                        "created_at": created,
                    }
                ],
            ):  # a concurrent creator committed the same name in between
                raise AlreadyExists(f"experiment {name!r} already exists", field="name")
        return Experiment(ExperimentId(experiment_id), name, description, to_datetime(created), clean_tags)

    def get_experiment(self, name_or_id: str) -> Experiment:
        with self.db.read() as conn:
            return records.experiment(self._experiment_row(conn, name_or_id))

    def list_experiments(self) -> list[Experiment]:
        with self.db.read() as conn:
            return [records.experiment(r) for r in conn.execute(select(exp_t).order_by(exp_t.c.name))]

    def _experiment_row(self, conn: Connection, name_or_id: str) -> Any:
        if not isinstance(name_or_id, str) or not name_or_id:
            raise InvalidInput("experiment must be a non-empty name or id", field="experiment")
        row = conn.execute(_EXPERIMENT_BY_ID, {"id": name_or_id}).first() if is_id(name_or_id) else None
        if row is None:
            row = conn.execute(_EXPERIMENT_BY_NAME, {"name": name_or_id}).first()
        if row is None:
            raise NotFound(f"experiment {name_or_id!r} does not exist", field="experiment")
        return row

    # -- runs --------------------------------------------------------------------------------
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
        run_id = new_id()
        name = validation.name("run", name) if name is not None else f"run-{run_id[-8:]}"
        clean_params = validation.params(params or {})
        validation.at_most(len(clean_params), self.limits.max_params, "params", "max_params")
        with self.db.write() as conn:
            values, clean_tags = self._insert_run(
                conn, run_id, experiment, name, user, parent_id, tags, environment
            )
            if clean_params:  # a new run: no key can clash
                insert_tuples(
                    conn,
                    params_t,
                    ("key", "value", "value_num"),
                    [(k, v, _number(v)) for k, v in clean_params.items()],
                    constants={"run_id": run_id},
                )
        run = records.new_run(values, clean_tags, environment, clean_params)
        if environment is not None:  # committed: later runs need not insert it again
            self._known_environments.add(environment_digest(environment))
        return run

    def _insert_run(
        self,
        conn: Connection,
        run_id: str,
        experiment: str,
        name: str,
        user: str | None,
        parent_id: str | None,
        tags: Mapping[str, str] | None,
        environment: RunEnvironment | None,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Insert a run (and its tags); the ``runs`` row's values and the tags, as stored."""
        clean_tags = validation.tags(tags or {})
        validation.at_most(len(clean_tags), self.limits.max_tags, "tags", "max_tags")
        user = user or getpass.getuser()
        digest = environment_digest(environment) if environment else None
        if parent_id is not None:
            self._require_run(conn, parent_id, field="parent_id")
        if environment is not None and digest not in self._known_environments:
            insert_ignore(
                conn,
                env_t,
                [
                    {
                        "digest": digest,
                        "python_version": environment.python_version,
                        "platform": environment.platform,
                        "packages": dict(environment.packages),
                    }
                ],
            )
        values = {
            "id": run_id,
            "experiment_id": experiment,  # an id, checked by the insert below; else a name
            "name": name,
            "status": RunStatus.RUNNING.value,
            "start_time": now_ms(),
            "end_time": None,
            "user": user,
            "note": "",
            "parent_id": parent_id,
            "environment_digest": digest,
            "command": environment.command if environment else "",
            "git_commit": environment.git_commit if environment else None,
            "git_dirty": environment.git_dirty if environment else None,
        }
        if not (
            isinstance(experiment, str)
            and is_id(experiment)
            and conn.execute(_INSERT_RUN_IN_EXPERIMENT, values).rowcount == 1
        ):
            values["experiment_id"] = self._experiment_row(conn, experiment).id  # NotFound if none
            conn.execute(runs_t.insert(), values)
        if clean_tags:
            conn.execute(
                tags_t.insert(), [{"run_id": run_id, "key": k, "value": v} for k, v in clean_tags.items()]
            )
        return values, dict(clean_tags)

    def get_run(self, run_id: str) -> Run:
        with self.db.read() as conn:
            return records.load_run(conn, run_id)

    def run_experiment(self, run_id: str) -> Experiment:
        """The experiment ``run_id`` belongs to, in one small query (what authorization asks; the
        run's params, metrics and tags are not read). NotFound (field ``run_id``) if no such run."""
        with self.db.read() as conn:
            row = conn.execute(_EXPERIMENT_OF_RUN, {"run_id": run_id}).first()
        if row is None:
            raise NotFound(f"run {run_id!r} does not exist", field="run_id")
        return records.experiment(row)

    def end_run(
        self,
        run_id: str,
        status: RunStatus = RunStatus.FINISHED,
        *,
        points: Sequence[MetricPoint] = (),
        batch_id: str | None = None,
    ) -> Run:
        status = self._status(status)
        if not status.terminal:
            raise InvalidInput(
                f"a run ends as FINISHED, FAILED or KILLED, not {status.value}", field="status"
            )
        validation.at_most(len(points), self.limits.max_metric_points, "points", "max_metric_points")
        rows, latest = validation.metric_batch(points)
        with self.db.write() as conn:
            # A running run ends, checked, changed and locked in one statement that returns it.
            ended_row = conn.execute(
                _END_RUNNING, {"run_id": run_id, "status": status.value, "end_time": now_ms()}
            ).first()
            before = self._require_run(conn, run_id) if ended_row is None else None
            if rows:  # the last points, stored with the end (a retried end stores them once)
                batch = MetricBatch(run_id, rows, latest, batch_id)
                locked = () if ended_row is None else (run_id,)
                (stored,) = metric_writes.store_batches(conn, [batch], locked=locked)
                if isinstance(stored, ShipyardError):
                    raise stored
            if before is not None:
                if before.status == status.value:  # ended before: the same end again is a no-op
                    return records.load_run(conn, run_id)
                raise Conflict(f"run {run_id!r} has already ended as {before.status}", field="status")
            ended = records.run_of_row(conn, ended_row)
            event_log.publish(
                conn,
                RunFinished(run_id=run_id, experiment_id=ended.experiment_id, status=status.value),
                actor=ended.user or "unknown",
            )
            return ended

    def update_run(self, run_id: str, *, name: str | None = None, note: str | None = None) -> Run:
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = validation.name("run", name)
        if note is not None:
            if not isinstance(note, str):
                raise InvalidInput("note must be a string", field="note")
            values["note"] = note
        with self.db.write() as conn:
            self._require_run(conn, run_id)
            if values:
                conn.execute(update(runs_t).where(runs_t.c.id == run_id).values(**values))
            return records.load_run(conn, run_id)

    @staticmethod
    def _status(status: RunStatus | str) -> RunStatus:
        try:
            return RunStatus(str(status).upper())
        except ValueError:
            known = ", ".join(s.value for s in RunStatus)
            raise InvalidInput(f"unknown run status {status!r} (known: {known})", field="status") from None

    @staticmethod
    def _require_run(conn: Connection, run_id: str, *, field: str = "run_id") -> Any:
        row = conn.execute(_RUN_STATUS, {"run_id": run_id}).first()
        if row is None:
            raise NotFound(f"run {run_id!r} does not exist", field=field)
        return row

    # -- params, metrics, tags ---------------------------------------------------------------
    def log_params(self, run_id: str, params: Mapping[str, object]) -> None:
        clean = validation.params(params)
        if not clean:
            return
        validation.at_most(len(clean), self.limits.max_params, "params", "max_params")
        rows = [{"run_id": run_id, "key": k, "value": v, "value_num": _number(v)} for k, v in clean.items()]
        with self.db.write() as conn:
            self._require_run(conn, run_id)
            if insert_ignore(conn, params_t, rows) == len(rows):
                self._check_count(conn, params_t, run_id, self.limits.max_params, "params", "max_params")
                return
            # Some keys were logged before: the same value again is fine, another one is refused
            # (and the whole call rolls back).
            existing = conn.execute(
                select(params_t.c.key, params_t.c.value).where(
                    params_t.c.run_id == run_id, params_t.c.key.in_(list(clean))
                )
            )
            for key, value in existing:
                if value != clean[key]:
                    raise Conflict(
                        f"param {key!r} of run {run_id} is {value!r} and cannot change to {clean[key]!r} "
                        "(params are immutable; log a metric or tag instead)",
                        field=f"params.{key}",
                    )

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint], *, batch_id: str | None = None) -> int:
        validation.at_most(len(points), self.limits.max_metric_points, "points", "max_metric_points")
        rows, latest = validation.metric_batch(points)
        if not rows:
            return 0
        with self.db.write() as conn:
            return self.store_metrics(conn, run_id, rows, latest, batch_id)

    def store_metrics(
        self,
        conn: Connection,
        run_id: str,
        rows: Sequence[Sequence[object]],
        latest: validation.Latest,
        batch_id: str | None = None,
    ) -> int:
        """Store validated points (see :func:`validation.metric_batch`) inside ``conn``'s
        transaction; returns how many were stored (0 for a batch id seen before)."""
        (outcome,) = self.store_metric_batches(conn, [MetricBatch(run_id, rows, latest, batch_id)])
        if isinstance(outcome, ShipyardError):
            raise outcome
        return outcome

    def store_metric_batches(
        self, conn: Connection, batches: Sequence[MetricBatch]
    ) -> list[int | ShipyardError]:
        """Store several validated batches inside ``conn``'s transaction; each batch's outcome
        (see :func:`shipyard.tracking.metric_writes.store_batches`)."""
        return metric_writes.store_batches(conn, batches)

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            return curves.history(conn, run_id, key)

    def metric_curve(self, run_id: str, key: str, points: int) -> list[Metric]:
        """The history cut to at most ``points`` points in the database, for charts (see
        :mod:`shipyard.tracking.curves`)."""
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            return curves.curve(conn, run_id, key, points)

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        clean = validation.tags(tags)
        validation.at_most(len(clean), self.limits.max_tags, "tags", "max_tags")
        with self.db.write() as conn:
            self._require_run(conn, run_id)
            upsert(
                conn,
                tags_t,
                [{"run_id": run_id, "key": k, "value": v} for k, v in sorted(clean.items())],
                keys=("run_id", "key"),
                update=("value",),
            )
            self._check_count(conn, tags_t, run_id, self.limits.max_tags, "tags", "max_tags")

    @staticmethod
    def _check_count(conn: Connection, table_: Any, run_id: str, cap: int, what: str, setting: str) -> None:
        """Refuse (and roll back) a write that leaves the run holding more than ``cap`` rows."""
        held = conn.execute(select(func.count()).where(table_.c.run_id == run_id)).scalar_one()
        if held > cap:
            raise InvalidInput(
                f"run {run_id} would hold {held} {what}; at most {cap} (setting {setting})", field=what
            )

    def delete_tag(self, run_id: str, key: str) -> None:
        with self.db.write() as conn:
            self._require_run(conn, run_id)
            result = conn.execute(delete(tags_t).where(tags_t.c.run_id == run_id, tags_t.c.key == key))
            if result.rowcount == 0:
                raise NotFound(f"run {run_id} has no tag {key!r}", field="key")

    # -- datasets ------------------------------------------------------------------------------
    def log_dataset(
        self,
        run_id: str,
        info: DatasetInfo,
        *,
        context: str = "training",
        direction: Direction = Direction.INPUT,
    ) -> RunDataset:
        name = validation.name("dataset", info.name)
        digest = parse_digest(info.digest)
        context = validation.key("dataset context", context)
        direction = Direction(direction)
        with self.db.write() as conn:
            self._require_run(conn, run_id)
            row = self._link_dataset(conn, run_id, name, digest, info, context, direction)
            return RunDataset(RunId(run_id), records.dataset(row), direction, context)

    @staticmethod
    def _link_dataset(
        conn: Connection,
        run_id: str,
        name: str,
        digest: str,
        info: DatasetInfo,
        context: str,
        direction: Direction,
        *,
        fresh: bool = False,
    ) -> Any:
        schema = [{"name": c.name, "type": c.type} for c in info.schema]
        identity = (ds_t.c.name == name) & (ds_t.c.digest == digest) & (ds_t.c.location == info.location)
        row = conn.execute(select(ds_t).where(identity)).first()
        if row is None:
            insert_ignore(
                conn,
                ds_t,
                [
                    {
                        "id": new_id(),
                        "name": name,
                        "digest": digest,
                        "schema": schema,
                        "num_rows": info.num_rows,
                        "location": info.location,
                        "source_type": info.source_type,
                        "created_at": now_ms(),
                    }
                ],
            )
            row = conn.execute(select(ds_t).where(identity)).one()
        link = {"run_id": run_id, "dataset_id": row.id, "direction": direction.value, "context": context}
        if fresh:  # a run created in this transaction has no links yet
            conn.execute(rd_t.insert(), link)
        else:
            insert_ignore(conn, rd_t, [link])
        return row

    def log_batch(
        self,
        run_id: str,
        *,
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, str] | None = None,
        inputs: Sequence[tuple[DatasetInfo, str]] = (),
        artifacts: Mapping[str, str] | None = None,
        end: RunStatus | None = None,
    ) -> None:
        """Several records of one run in ONE transaction (what a pipeline step records at its
        end): params, tags, input datasets ``(info, context)``, artifacts ``path -> digest`` of
        blobs already in the content store, then optionally the run's end (a run that already
        ended stays as it is)."""
        batch = self._check_batch(params, tags, inputs, artifacts, end)
        with self.db.write() as conn:
            self._write_batch(conn, run_id, self._require_run(conn, run_id).status, *batch)

    def open_run(
        self,
        experiment: str,
        *,
        name: str,
        user: str,
        parent_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, object] | None = None,
        inputs: Sequence[tuple[DatasetInfo, str]] = (),
        artifacts: Mapping[str, str] | None = None,
        end: RunStatus | None = None,
    ) -> str:
        """:meth:`create_run` and :meth:`log_batch` in ONE transaction; returns only the run id
        (a pipeline step's start, or a whole cached step, where every write is overhead)."""
        batch = self._check_batch(params, None, inputs, artifacts, end)
        run_id = new_id()
        with self.db.write() as conn:
            self._insert_run(
                conn, run_id, experiment, validation.name("run", name), user, parent_id, tags, None
            )
            self._write_batch(conn, run_id, RunStatus.RUNNING.value, *batch, fresh=True)
        return run_id

    def _check_batch(
        self,
        params: Mapping[str, object] | None,
        tags: Mapping[str, str] | None,
        inputs: Sequence[tuple[DatasetInfo, str]],
        artifacts: Mapping[str, str] | None,
        end: RunStatus | None,
    ) -> tuple[Any, ...]:
        clean_params = validation.params(params or {})
        clean_tags = validation.tags(tags or {})
        links = [
            (
                validation.name("dataset", info.name),
                parse_digest(info.digest),
                info,
                validation.key("dataset context", c),
            )
            for info, c in inputs
        ]
        blobs = {check_key(path): parse_digest(digest) for path, digest in (artifacts or {}).items()}
        sizes = {digest: self.content.size(digest) for digest in blobs.values()}
        status = None if end is None else self._status(end)
        if status is not None and not status.terminal:
            raise InvalidInput("a run ends as FINISHED, FAILED or KILLED", field="status")
        return clean_params, clean_tags, links, blobs, sizes, status

    def _write_batch(
        self,
        conn: Connection,
        run_id: str,
        current_status: str,
        clean_params: dict[str, str],
        clean_tags: dict[str, str],
        links: list[tuple[str, str, DatasetInfo, str]],
        blobs: dict[str, str],
        sizes: dict[str, int],
        status: RunStatus | None,
        *,
        fresh: bool = False,
    ) -> None:
        """``fresh``: the run was inserted in this transaction, so nothing can conflict."""
        now = now_ms()
        if clean_params:
            rows = [
                {"run_id": run_id, "key": k, "value": v, "value_num": _number(v)}
                for k, v in clean_params.items()
            ]
            if insert_ignore(conn, params_t, rows) != len(rows):
                raise Conflict(f"params of run {run_id} were logged before", field="params")
        if clean_tags:
            upsert(
                conn,
                tags_t,
                [{"run_id": run_id, "key": k, "value": v} for k, v in sorted(clean_tags.items())],
                keys=("run_id", "key"),
                update=("value",),
            )
        for name, digest, info, context in links:
            self._link_dataset(conn, run_id, name, digest, info, context, Direction.INPUT, fresh=fresh)
        if blobs:
            rows = [
                {"run_id": run_id, "path": p, "digest": d, "size": sizes[d], "created_at": now}
                for p, d in sorted(blobs.items())
            ]
            if fresh:
                conn.execute(art_t.insert(), rows)
            else:
                upsert(conn, art_t, rows, keys=("run_id", "path"), update=("digest", "size", "created_at"))
        if status is not None and current_status == RunStatus.RUNNING.value:
            conn.execute(
                update(runs_t).where(runs_t.c.id == run_id).values(status=status.value, end_time=now)
            )
            ended = conn.execute(
                select(runs_t.c.experiment_id, runs_t.c.user).where(runs_t.c.id == run_id)
            ).one()
            event_log.publish(  # last: it takes the append lock until commit
                conn,
                RunFinished(run_id=run_id, experiment_id=ended.experiment_id, status=status.value),
                actor=ended.user or "unknown",
            )

    def run_datasets(self, run_id: str) -> list[RunDataset]:
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            links = conn.execute(select(rd_t).where(rd_t.c.run_id == run_id)).all()
            datasets = records.datasets_by_id(conn, [link.dataset_id for link in links])
        return [
            RunDataset(RunId(run_id), datasets[link.dataset_id], Direction(link.direction), link.context)
            for link in links
        ]

    # -- artifacts -----------------------------------------------------------------------------
    def log_artifact(self, run_id: str, source: Path, path: str) -> Artifact:
        path = check_key(path)
        source = Path(source)
        if not source.is_file():
            raise InvalidInput(f"artifact source {str(source)!r} is not a file", field="source")
        with self.db.read() as conn:
            self._require_run(conn, run_id)
        return self._record_artifact(run_id, path, self.content.put_file(source))

    def store_artifact(
        self, run_id: str, path: str, stream: BinaryIO, expected_digest: str | None = None
    ) -> Artifact:
        """Like :meth:`log_artifact`, from a stream (uploads received by the server)."""
        path = check_key(path)
        with self.db.read() as conn:
            self._require_run(conn, run_id)
        return self._record_artifact(run_id, path, self.content.put_stream(stream, expected_digest))

    def _record_artifact(self, run_id: str, path: str, blob: Blob) -> Artifact:
        # The blob is complete and verified before any row points at it.
        now = now_ms()
        with self.db.write() as conn:
            self._require_run(conn, run_id)
            upsert(
                conn,
                art_t,
                [
                    {
                        "run_id": run_id,
                        "path": path,
                        "digest": blob.digest,
                        "size": blob.size,
                        "created_at": now,
                    }
                ],
                keys=("run_id", "path"),
                update=("digest", "size", "created_at"),
            )
        return Artifact(RunId(run_id), path, blob.digest, blob.size, to_datetime(now))

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            rows = conn.execute(select(art_t).where(art_t.c.run_id == run_id).order_by(art_t.c.path))
            return [
                Artifact(RunId(r.run_id), r.path, r.digest, r.size, to_datetime(r.created_at)) for r in rows
            ]

    def artifact(self, run_id: str, path: str) -> Artifact:
        path = check_key(path)
        with self.db.read() as conn:
            self._require_run(conn, run_id)
            r = conn.execute(select(art_t).where(art_t.c.run_id == run_id, art_t.c.path == path)).first()
        if r is None:
            raise NotFound(f"run {run_id} has no artifact {path!r}", field="path")
        return Artifact(RunId(r.run_id), r.path, r.digest, r.size, to_datetime(r.created_at))

    def download_artifact(self, run_id: str, path: str, dest: Path) -> Path:
        return self.content.get_file(self.artifact(run_id, path).digest, Path(dest))

    def download_blob(self, digest: str, dest: Path) -> Path:
        digest = parse_digest(digest)
        if not self.content.exists(digest):
            raise NotFound(f"no artifact has digest {digest}", field="digest")
        return self.content.get_file(digest, Path(dest))

    # -- queries -------------------------------------------------------------------------------
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
        self._check_filter(filter)
        with self.db.read() as conn:
            experiment_ids = self._experiment_ids(conn, experiments)
            query = build_search(experiment_ids, filter or "", list(order_by), max_results, offset)
            ids = [r[0] for r in conn.execute(query)]
            return records.load_runs(conn, ids)

    def count_runs(self, experiments: Sequence[str] | None = None, filter: str = "") -> int:
        self._check_filter(filter)
        with self.db.read() as conn:
            return int(
                conn.execute(build_count(self._experiment_ids(conn, experiments), filter or "")).scalar_one()
            )

    def _check_filter(self, filter: str) -> None:
        check_filter_size(
            filter or "", max_length=self.limits.max_filter_length, max_terms=self.limits.max_filter_terms
        )

    def _experiment_ids(self, conn: Connection, experiments: Sequence[str] | str | None) -> list[str] | None:
        if experiments is None:
            return None
        if isinstance(experiments, str):
            experiments = [experiments]
        return [self._experiment_row(conn, e).id for e in experiments]

    def compare_runs(self, run_ids: Sequence[str]) -> RunComparison:
        if len(run_ids) < 1:
            raise InvalidInput("compare needs at least one run id", field="run_ids")
        with self.db.read() as conn:
            runs = records.load_runs(conn, list(dict.fromkeys(run_ids)))
        missing = [r for r in run_ids if r not in {run.id for run in runs}]
        if missing:
            raise NotFound(f"run {missing[0]!r} does not exist", field="run_ids")
        param_keys = sorted({k for r in runs for k in r.params})
        metric_keys = sorted({k for r in runs for k in r.metrics})
        return RunComparison(tuple(runs), tuple(param_keys), tuple(metric_keys))

    def lineage(self, subject: str, depth: int = 1) -> LineageGraph:
        with self.db.read() as conn:
            node = lineage_walk.resolve(conn, subject)
            return lineage_walk.walk(conn, node, depth, self.lineage_extensions)
