"""Monitoring rows. They never leave the domain: :mod:`.records` maps them to :mod:`.model`.
Times are epoch ms.

``monitor_evaluations`` is unique per monitor and window end, so two schedulers evaluating the same
slot store it once. ``monitor_labels`` is keyed by deployment, request id and row: a label sent
twice is stored once. An alert rule carries its state (see :mod:`.alerting`), moved in the
evaluation's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.storage.metadata.base import Base

ID = String(32)
NAME = String(250)


class MonitorRow(Base):
    __tablename__ = "monitors"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    deployment: Mapped[str | None] = mapped_column(NAME, index=True)
    model: Mapped[str | None] = mapped_column(NAME)
    version: Mapped[int | None]
    #: :class:`~shipyard.monitoring.model.MonitorSpec` fields but the ones above.
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    reference_digest: Mapped[str] = mapped_column(String(80))
    reference_rows: Mapped[int]
    reference_source: Mapped[str] = mapped_column(String(1000))
    columns: Mapped[list[Any]] = mapped_column(JSON)
    estimator_digest: Mapped[str | None] = mapped_column(String(80))
    enabled: Mapped[bool]
    next_due_at: Mapped[int | None] = mapped_column(index=True)
    last_evaluated_at: Mapped[int | None]
    created_by: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[int]
    updated_at: Mapped[int]


class EvaluationRow(Base):
    __tablename__ = "monitor_evaluations"
    __table_args__ = (
        UniqueConstraint("monitor_id", "window_end", name="uq_monitor_evaluations_slot"),
        Index("ix_monitor_evaluations_monitor_created", "monitor_id", "created_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    monitor_id: Mapped[str] = mapped_column(ID)
    model: Mapped[str] = mapped_column(NAME)
    version: Mapped[int]
    window_start: Mapped[int]
    window_end: Mapped[int]
    rows: Mapped[int]
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[int]


class LabelRow(Base):
    __tablename__ = "monitor_labels"
    deployment: Mapped[str] = mapped_column(NAME, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    row: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(200))  # the label as text: "1", "churned", "3.25"
    #: When the labelled prediction was made, if it was found in the inference log on arrival.
    predicted_at: Mapped[int | None]
    received_at: Mapped[int] = mapped_column(index=True)


class ChannelRow(Base):
    __tablename__ = "notification_channels"
    name: Mapped[str] = mapped_column(NAME, primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[int]


class RuleRow(Base):
    __tablename__ = "alert_rules"
    __table_args__ = (UniqueConstraint("monitor_id", "name", name="uq_alert_rules_monitor_name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    monitor_id: Mapped[str] = mapped_column(ID, index=True)
    name: Mapped[str] = mapped_column(NAME)
    figure: Mapped[str] = mapped_column(NAME)
    op: Mapped[str] = mapped_column(String(2))
    threshold: Mapped[float] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(20))
    cooldown_s: Mapped[int]
    for_evaluations: Mapped[int]
    channels: Mapped[list[Any]] = mapped_column(JSON)
    #: :class:`~shipyard.monitoring.alerting.AlertState` as JSON.
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[int]


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_monitor_fired", "monitor_id", "fired_at"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    rule_id: Mapped[str] = mapped_column(ID, index=True)
    monitor_id: Mapped[str] = mapped_column(ID)
    #: The rule as it was when the alert fired (the rule may change or go; the alert stays).
    rule_name: Mapped[str] = mapped_column(NAME)
    figure: Mapped[str] = mapped_column(NAME)
    op: Mapped[str] = mapped_column(String(2))
    threshold: Mapped[float] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    value: Mapped[float] = mapped_column(Float)
    evaluation_id: Mapped[str] = mapped_column(ID)
    event_type: Mapped[str | None] = mapped_column(String(100))
    fired_at: Mapped[int]
    resolved_at: Mapped[int | None]
    acknowledged_by: Mapped[str | None] = mapped_column(NAME)
    acknowledged_at: Mapped[int | None]
