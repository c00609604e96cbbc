"""Rows to models (the tables never leave the domain)."""

from __future__ import annotations

import dataclasses
from typing import Any

from shipyard.monitoring.model import (
    Alert,
    Channel,
    DriftSettings,
    Evaluation,
    Monitor,
    MonitorSpec,
    Rule,
    Window,
)
from shipyard.monitoring.tables import AlertRow, ChannelRow, EvaluationRow, MonitorRow, RuleRow
from shipyard.storage.metadata.base import table

monitors_t = table(MonitorRow)
evaluations_t = table(EvaluationRow)
channels_t = table(ChannelRow)
rules_t = table(RuleRow)
alerts_t = table(AlertRow)


def spec_fields(spec: MonitorSpec) -> dict[str, Any]:
    """What the ``spec`` column holds (the columns of their own are left out)."""
    return {
        "reference": spec.reference,
        "target": spec.target,
        "features": None if spec.features is None else list(spec.features),
        "task": spec.task,
        "positive": spec.positive,
        "window": {"kind": spec.window.kind, "size": spec.window.size},
        "schedule": spec.schedule,
        "checks": list(spec.checks),
        "drift": dataclasses.asdict(spec.drift),
    }


def to_spec(row: Any) -> MonitorSpec:
    s = row.spec
    return MonitorSpec(
        name=row.name,
        deployment=row.deployment,
        model=row.model if row.deployment is None else None,
        version=row.version if row.deployment is None else None,
        reference=s.get("reference"),
        target=s.get("target"),
        features=None if s.get("features") is None else tuple(s["features"]),
        task=s.get("task", "classification"),
        positive=s.get("positive"),
        window=Window(**s.get("window", {})),
        schedule=s.get("schedule"),
        checks=tuple(s.get("checks", ())),
        drift=DriftSettings(**s.get("drift", {})),
    )


def to_monitor(row: Any) -> Monitor:
    return Monitor(
        id=row.id,
        spec=to_spec(row),
        reference_digest=row.reference_digest,
        reference_rows=row.reference_rows,
        reference_source=row.reference_source,
        columns=tuple(row.columns),
        estimator_digest=row.estimator_digest,
        enabled=row.enabled,
        next_due_at=row.next_due_at,
        last_evaluated_at=row.last_evaluated_at,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def to_evaluation(row: Any, monitor: str) -> Evaluation:
    return Evaluation(
        id=row.id,
        monitor=monitor,
        model=row.model,
        version=row.version,
        window_start=row.window_start,
        window_end=row.window_end,
        rows=row.rows,
        figures=dict(row.figures),
        details=dict(row.details),
        status=row.status,
        error=row.error,
        duration_ms=row.duration_ms,
        created_at=row.created_at,
    )


def to_channel(row: Any) -> Channel:
    return Channel(row.name, row.kind, dict(row.settings), row.created_by, row.created_at)


def to_rule(row: Any, monitor: str) -> Rule:
    return Rule(
        id=row.id,
        monitor=monitor,
        name=row.name,
        figure=row.figure,
        op=row.op,
        threshold=row.threshold,
        severity=row.severity,
        cooldown_s=row.cooldown_s,
        for_evaluations=row.for_evaluations,
        channels=tuple(row.channels),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def to_alert(row: Any, monitor: str) -> Alert:
    return Alert(
        id=row.id,
        rule=row.rule_name,
        monitor=monitor,
        figure=row.figure,
        op=row.op,
        threshold=row.threshold,
        severity=row.severity,
        status=row.status,
        value=row.value,
        evaluation_id=row.evaluation_id,
        event_type=row.event_type,
        fired_at=row.fired_at,
        resolved_at=row.resolved_at,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
    )
