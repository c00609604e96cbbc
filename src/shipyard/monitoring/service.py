"""Monitor use cases: create (preparing the reference once), list, enable, delete; evaluate a
window (by hand, or when the scheduler finds it due); labels; the history of every figure.

An evaluation reads outside any transaction (the inference log, the prepared reference, the
model to score the window), then stores the evaluation, moves the alert rules and publishes their
events in one transaction. Its slot (monitor, window end) is unique, so two schedulers never store
the same evaluation twice; a scheduled slot is claimed first with a compare-and-set on the
monitor's ``next_due_at``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow as pa
from croniter import croniter
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from shipyard.audit import log as audit
from shipyard.core.clock import now_ms
from shipyard.core.ids import new_id
from shipyard.errors import AlreadyExists, InvalidInput, NotFound, ShipyardError
from shipyard.monitoring import baseline, checks, labels
from shipyard.monitoring.alerts import AlertService, Fired
from shipyard.monitoring.cbpe import CBPE
from shipyard.monitoring.drift import Reference
from shipyard.monitoring.frames import WindowData, decode, decode_outputs
from shipyard.monitoring.metrics import MonitorMetrics
from shipyard.monitoring.model import Evaluation, LabelReport, Monitor, MonitorSpec
from shipyard.monitoring.ports import Deployments, InferenceRows, LiveFigures, Scorer, Versions
from shipyard.monitoring.records import (
    evaluations_t,
    monitors_t,
    rules_t,
    spec_fields,
    to_evaluation,
    to_monitor,
)
from shipyard.storage.artifacts.content import ContentStore
from shipyard.storage.metadata.database import Database

log = logging.getLogger(__name__)

#: How far back a label batch looks for its predictions in the inference log.
LABEL_LOOKBACK_MS = 7 * 86_400_000
#: Monitors evaluated per scheduler tick at most (the rest on the next tick).
TICK_LIMIT = 2_000


def next_slot(schedule: str, after_ms: int) -> int:
    """The next cron slot (UTC) strictly after ``after_ms``."""
    start = datetime.fromtimestamp(after_ms / 1000, UTC)
    return int(croniter(schedule, start).get_next(datetime).timestamp() * 1000)


def check_schedule(schedule: str | None) -> None:
    if schedule is not None and not croniter.is_valid(schedule):
        raise InvalidInput(
            f"schedule {schedule!r} is not a cron expression (e.g. '0 * * * *')", field="schedule"
        )


class MonitorService:
    def __init__(
        self,
        db: Database,
        content: ContentStore,
        *,
        deployments: Deployments,
        inference: InferenceRows,
        live: LiveFigures,
        versions: Versions,
        scorer: Scorer,
        alerts: AlertService,
        metrics: MonitorMetrics | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.db = db
        self.content = content
        self.deployments = deployments
        self.inference = inference
        self.live = live
        self.versions = versions
        self.scorer = scorer
        self.alerts = alerts
        self.metrics = metrics
        self.clock = clock
        self._references: dict[str, Reference] = {}
        self._estimators: dict[str, CBPE] = {}

    # -- monitors ----------------------------------------------------------------------------------

    def create(self, spec: MonitorSpec, *, actor: str) -> Monitor:
        check_schedule(spec.schedule)
        checks.drift_options(spec.drift)
        if spec.model is not None and spec.schedule is not None:
            raise InvalidInput(
                "a monitor on a model version is evaluated on the data you pass it: it has no schedule",
                field="schedule",
            )
        with self.db.read() as conn:
            if conn.execute(select(monitors_t.c.id).where(monitors_t.c.name == spec.name)).first():
                raise AlreadyExists(f"monitor {spec.name!r} exists")
        model, version = self._subject(spec)
        prepared = baseline.prepare(
            spec, model, version, versions=self.versions, scorer=self.scorer, content=self.content
        )
        now = self.clock()
        row = {
            "id": new_id(),
            "name": spec.name,
            "deployment": spec.deployment,
            "model": model,
            "version": version,
            "spec": spec_fields(spec),
            "reference_digest": prepared.reference_digest,
            "reference_rows": prepared.reference_rows,
            "reference_source": prepared.source[:1000],
            "columns": list(prepared.columns),
            "estimator_digest": prepared.estimator_digest,
            "enabled": True,
            "next_due_at": None if spec.schedule is None else next_slot(spec.schedule, now),
            "last_evaluated_at": None,
            "created_by": actor,
            "created_at": now,
            "updated_at": now,
        }
        with self.db.write() as conn:
            try:
                conn.execute(monitors_t.insert().values(**row))
            except IntegrityError:
                raise AlreadyExists(f"monitor {spec.name!r} exists") from None
            audit.append(
                conn, actor=actor, action="monitor.create", object_type="monitor", object_id=spec.name,
                after={"subject": spec.deployment or f"{model}/{version}", "reference": prepared.source,
                       "window": spec.window.label(), "schedule": spec.schedule, "checks": list(spec.checks)},
            )  # fmt: skip
        return self.get(spec.name)

    def get(self, name: str) -> Monitor:
        with self.db.read() as conn:
            row = conn.execute(select(monitors_t).where(monitors_t.c.name == name)).first()
        if row is None:
            raise NotFound(f"no monitor {name!r}")
        return to_monitor(row)

    def list_monitors(self, *, deployment: str | None = None) -> list[Monitor]:
        stmt = select(monitors_t).order_by(monitors_t.c.name)
        if deployment is not None:
            stmt = stmt.where(monitors_t.c.deployment == deployment)
        with self.db.read() as conn:
            return [to_monitor(r) for r in conn.execute(stmt)]

    def set_enabled(self, name: str, enabled: bool, *, actor: str) -> Monitor:
        monitor = self.get(name)
        now = self.clock()
        due = next_slot(monitor.spec.schedule, now) if enabled and monitor.spec.schedule else None
        with self.db.write() as conn:
            conn.execute(
                update(monitors_t)
                .where(monitors_t.c.id == monitor.id)
                .values(enabled=enabled, next_due_at=due, updated_at=now)
            )
            audit.append(
                conn, actor=actor, action="monitor.enable" if enabled else "monitor.disable",
                object_type="monitor", object_id=name,
            )  # fmt: skip
        return self.get(name)

    def delete(self, name: str, *, actor: str) -> None:
        monitor = self.get(name)
        with self.db.write() as conn:
            conn.execute(delete(rules_t).where(rules_t.c.monitor_id == monitor.id))  # its rules stop
            conn.execute(delete(monitors_t).where(monitors_t.c.id == monitor.id))
            audit.append(conn, actor=actor, action="monitor.delete", object_type="monitor", object_id=name)

    # -- evaluations -------------------------------------------------------------------------------

    def evaluate(self, name: str, *, at: int | None = None, data: pa.Table | None = None) -> Evaluation:
        """Evaluate the window ending at ``at`` (default now), or ``data`` (a scored batch: the
        model's inputs, and the target column if labels are known) for a monitor on a version."""
        monitor = self.get(name)
        if data is None and monitor.spec.deployment is None:
            raise InvalidInput(
                f"monitor {name!r} watches {monitor.subject}: pass the scored data to evaluate (--data FILE)",
                field="data",
            )
        return self._evaluate(monitor, self.clock() if at is None else at, data)

    def run_due(self, now: int | None = None) -> tuple[list[Evaluation], list[str]]:
        """Evaluate the enabled monitors whose scheduled slot has come (what a scheduler tick
        calls). Each slot is claimed first, so two schedulers evaluate it once."""
        now = self.clock() if now is None else now
        with self.db.read() as conn:
            due = conn.execute(
                select(monitors_t.c.id, monitors_t.c.name, monitors_t.c.next_due_at, monitors_t.c.spec)
                .where(monitors_t.c.enabled.is_(True), monitors_t.c.next_due_at <= now)
                .order_by(monitors_t.c.next_due_at)
                .limit(TICK_LIMIT)
            ).all()
        done: list[Evaluation] = []
        errors: list[str] = []
        for row in due:
            slot, schedule = row.next_due_at, row.spec.get("schedule")
            if schedule is None:
                continue
            following = next_slot(schedule, max(slot, now - 1))  # missed slots: the latest only
            with self.db.write() as conn:
                claimed = conn.execute(
                    update(monitors_t)
                    .where(monitors_t.c.id == row.id, monitors_t.c.next_due_at == slot)
                    .values(next_due_at=following)
                ).rowcount
            if not claimed:
                continue
            try:
                done.append(self._evaluate(self.get(row.name), slot, None))
            except ShipyardError as exc:  # one monitor's trouble must not stop the others
                errors.append(f"monitor {row.name}: {exc}")
                log.warning("monitor %s: %s", row.name, exc)
        return done, errors

    def evaluations(self, name: str, *, limit: int = 100, since: int | None = None) -> list[Evaluation]:
        monitor = self.get(name)
        stmt = select(evaluations_t).where(evaluations_t.c.monitor_id == monitor.id)
        if since is not None:
            stmt = stmt.where(evaluations_t.c.window_end >= since)
        stmt = stmt.order_by(evaluations_t.c.window_end.desc()).limit(limit)
        with self.db.read() as conn:
            rows = conn.execute(stmt).all()
        return [to_evaluation(r, name) for r in reversed(rows)]

    def get_evaluation(self, evaluation_id: str) -> Evaluation:
        with self.db.read() as conn:
            row = conn.execute(
                select(evaluations_t, monitors_t.c.name.label("monitor_name"))
                .join(monitors_t, monitors_t.c.id == evaluations_t.c.monitor_id)
                .where(evaluations_t.c.id == evaluation_id)
            ).first()
        if row is None:
            raise NotFound(f"no evaluation {evaluation_id!r}")
        return to_evaluation(row, row.monitor_name)

    def history(self, name: str, figure: str, *, limit: int = 1000) -> list[tuple[int, float]]:
        """``(window end, value)`` of one figure, oldest first."""
        return [
            (e.window_end, e.figures[figure])
            for e in self.evaluations(name, limit=limit)
            if figure in e.figures
        ]

    # -- labels ------------------------------------------------------------------------------------

    def log_labels(self, deployment: str, items: Sequence[Mapping[str, object]]) -> LabelReport:
        batch = labels.parse(items)
        self.deployments.primary(deployment)  # NotFound for an unknown deployment
        now = self.clock()
        found = self.inference.read(deployment, now - LABEL_LOOKBACK_MS, now + 60_000)
        wanted = {label.request_id for label in batch}
        predicted: dict[tuple[str, int], int] = {}
        if found.num_rows:
            ids, rows, times = (found.column(c).to_pylist() for c in ("request_id", "row", "time"))
            for request_id, row, t in zip(ids, rows, times, strict=True):
                if request_id in wanted:
                    predicted[(request_id, row)] = t
        with self.db.write() as conn:
            return labels.store(conn, deployment, batch, predicted, now=now)

    def label_accuracy(self, deployment: str, version: int, since: int) -> tuple[float, int] | None:
        """The share of ``version``'s predictions on ``deployment`` since ``since`` (epoch ms) that
        matched their label, and how many were labelled; None before any label (what a canary's
        label check reads)."""
        table = self.inference.read(deployment, since, self.clock() + 60_000)
        if table.num_rows == 0:
            return None
        table = table.filter(pa.compute.equal(table.column("version"), version))
        # Only ids and outputs: the inputs' JSON is not needed to score labels.
        keys = list(zip(table.column("request_id").to_pylist(), table.column("row").to_pylist(), strict=True))
        outputs = decode_outputs(table.column("output").to_pylist())
        with self.db.read() as conn:
            known = labels.lookup(conn, deployment, keys)
        pairs = [(str(_plain(o)), known[k]) for o, k in zip(outputs, keys, strict=True) if k in known]
        if not pairs:
            return None
        return sum(1 for predicted, label in pairs if predicted == label) / len(pairs), len(pairs)

    # -- inside an evaluation ------------------------------------------------------------------------

    def _subject(self, spec: MonitorSpec) -> tuple[str, int]:
        if spec.deployment is not None:
            return self.deployments.primary(spec.deployment)
        assert spec.model is not None and spec.version is not None
        self.versions.check(spec.model, spec.version)
        return spec.model, spec.version

    def _reference(self, digest: str) -> Reference:
        if digest not in self._references:
            self._references[digest] = Reference.from_bytes(self.content.read_bytes(digest))
        return self._references[digest]

    def _estimator(self, digest: str | None) -> CBPE | None:
        if digest is None:
            return None
        if digest not in self._estimators:
            self._estimators[digest] = CBPE.from_bytes(self.content.read_bytes(digest))
        return self._estimators[digest]

    def _window(
        self, monitor: Monitor, model: str, version: int, at: int, data: pa.Table | None
    ) -> tuple[WindowData, int]:
        spec = monitor.spec
        if data is not None:
            frame = data.to_pandas()
            window = WindowData(
                inputs=frame,
                outputs=np.asarray([], dtype=float),
                request_ids=np.arange(len(frame)).astype(str).astype(object),
                rows=np.zeros(len(frame), dtype=np.int64),
                times=np.full(len(frame), at, dtype=np.int64),
                latency_ms=np.asarray([], dtype=float),
                versions=np.full(len(frame), version, dtype=np.int64),
            )
            return window, at
        assert spec.deployment is not None
        if spec.window.kind == "time":
            start = at - spec.window.size * 1000
            table = self.inference.read(spec.deployment, start, at)
        else:
            table = self.inference.read(spec.deployment, 0, at, last=spec.window.size)
            start = int(table.column("time")[0].as_py()) if table.num_rows else at
        if table.num_rows:
            mask = pa.compute.equal(table.column("version"), version)
            table = table.filter(mask)
        return decode(table), start

    def _evaluate(self, monitor: Monitor, at: int, data: pa.Table | None) -> Evaluation:
        began = time.perf_counter()
        spec = monitor.spec
        model, version = self._subject(spec)
        figures: dict[str, float] = {}
        details: dict[str, Any] = {"model": model, "version": version}
        status, error = "ok", None
        window, start = self._window(monitor, model, version, at, data)
        figures["window.rows"] = float(len(window))
        try:
            if len(window):
                self._checks(monitor, model, version, window, data, at, start, figures, details)
            else:
                status = "empty"
            if "operations" in spec.checks and spec.deployment is not None and not len(window):
                live = self.live.figures(spec.deployment, start, at)
                figures.update(checks.operations(window.latency_ms, window.times, live, (at - start) / 1000))
            if "age" in spec.checks:
                figures.update(checks.age(self.versions.registered_at(model, version), at))
        except ShipyardError as exc:  # the window cannot be evaluated (e.g. columns gone): recorded
            status, error = "failed", str(exc)
        duration = (time.perf_counter() - began) * 1000
        now = self.clock()
        evaluation_id = new_id()
        row = {
            "id": evaluation_id, "monitor_id": monitor.id, "model": model, "version": version,
            "window_start": start, "window_end": at, "rows": len(window), "figures": figures,
            "details": _json_safe(details), "status": status, "error": error, "duration_ms": duration,
            "created_at": now,
        }  # fmt: skip
        fired: list[Fired] = []
        try:
            with self.db.write() as conn:
                conn.execute(evaluations_t.insert().values(**row))
                conn.execute(
                    update(monitors_t).where(monitors_t.c.id == monitor.id).values(last_evaluated_at=now)
                )
                if status != "failed":
                    fired = self.alerts.apply(
                        conn, monitor_id=monitor.id, monitor=monitor.name, deployment=spec.deployment,
                        model=model, version=version, evaluation_id=evaluation_id, figures=figures, now=at,
                    )  # fmt: skip
        except IntegrityError:  # another scheduler stored this slot first: theirs stands
            with self.db.read() as conn:
                existing = conn.execute(
                    select(evaluations_t).where(
                        evaluations_t.c.monitor_id == monitor.id, evaluations_t.c.window_end == at
                    )
                ).first()
            if existing is None:
                raise
            return to_evaluation(existing, monitor.name)
        self.alerts.notify(fired)
        if self.metrics is not None:
            for item in fired:
                n = item.notification
                self.metrics.alert(monitor.name, n.rule, n.severity, n.status == "firing")
            self.metrics.evaluated(monitor.name, status, duration / 1000)
            for key, value in figures.items():
                self.metrics.figure(monitor.name, spec.deployment or f"{model}/{version}", key, value)
        return to_evaluation(SimpleNamespace(**row), monitor.name)

    def _checks(
        self,
        monitor: Monitor,
        model: str,
        version: int,
        window: WindowData,
        data: pa.Table | None,
        at: int,
        start: int,
        figures: dict[str, float],
        details: dict[str, Any],
    ) -> None:
        spec = monitor.spec
        reference = self._reference(monitor.reference_digest)
        inputs = self.scorer.inputs(model, version)
        missing = [c for c in inputs if c not in window.inputs.columns]
        if missing:
            raise InvalidInput(
                f"the window lacks the model's input column(s) {', '.join(missing)}", field="window"
            )
        prediction, proba = self.scorer.predict(model, version, window.inputs[inputs])
        classes = self.scorer.classes(model, version)
        positive = baseline.positive_class(classes, spec.positive) if spec.task == "classification" else None
        scores = baseline.scores_of(prediction, proba, classes, positive)
        outputs = window.outputs if len(window.outputs) else np.asarray(prediction)
        current = window.inputs.reindex(columns=list(monitor.columns))
        if "quality" in spec.checks:
            f, d = checks.quality(reference, current)
            figures.update(f)
            details["quality"] = d
        if "drift" in spec.checks:
            f, d = checks.drift(reference, current, monitor.columns, spec.drift)
            figures.update(f)
            details.update(d)
        if "prediction_drift" in spec.checks:
            f, d = checks.prediction_drift(reference, scores)
            figures.update(f)
            details.update(d)
        if "performance" in spec.checks:
            known = self._labels(spec, window, data)
            figures.update(
                checks.performance(
                    spec.task, known, np.asarray(prediction), scores if proba is not None else None, positive
                )
            )
        if "estimated_performance" in spec.checks:
            estimator = self._estimator(monitor.estimator_digest)
            if estimator is not None:
                f, d = checks.estimated(estimator, scores, np.asarray(prediction), positive)
                figures.update(f)
                details.update(d)
        if "operations" in spec.checks and spec.deployment is not None:
            live = self.live.figures(spec.deployment, start, at)
            figures.update(checks.operations(window.latency_ms, window.times, live, (at - start) / 1000))
        if "stability" in spec.checks:
            figures.update(checks.stability(outputs, scores))

    def _labels(self, spec: MonitorSpec, window: WindowData, data: pa.Table | None) -> list[str | None]:
        if data is not None:
            if spec.target is None or spec.target not in window.inputs.columns:
                return [None] * len(window)
            return [None if v is None else str(v) for v in window.inputs[spec.target].tolist()]
        assert spec.deployment is not None
        keys = list(zip(window.request_ids.tolist(), window.rows.tolist(), strict=True))
        with self.db.read() as conn:
            known = labels.lookup(conn, spec.deployment, keys)
        return [known.get(k) for k in keys]


def _plain(value: object) -> object:
    """A logged output as its label's text form would read (1.0 -> 1)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _json_safe(value: Any) -> Any:
    """Details as JSON: NaN and inf become None, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
