"""Deployment rows. They never leave the domain: :mod:`.records` maps them to :mod:`.model`.

``deployment_head`` holds one row, the highest revision ever given: every change takes the next
one under that row's lock, so a replica that polls it (one primary-key read) never misses a change,
and a deployment's own ``revision`` is the compare-and-set token of the canary decider. Deleted
deployments stay as tombstones (``deleted``) so a deletion is a change replicas notice too.
Times are epoch ms.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.storage.metadata.base import Base

ID = String(32)
NAME = String(250)
SERIAL = BigInteger().with_variant(Integer, "sqlite")


class DeploymentRow(Base):
    __tablename__ = "deployments"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    model: Mapped[str] = mapped_column(NAME)
    strategy: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    public: Mapped[bool] = mapped_column(default=False)
    #: ``[{"model", "version", "role", "weight", "alias"}]``
    targets: Mapped[list[Any]] = mapped_column(JSON)
    #: :class:`~shipyard.serving.model.CanaryPolicy` fields, None unless a canary.
    canary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: The canary's progress: ``{"step_started_at": ms}``.
    canary_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    feature_service: Mapped[str | None] = mapped_column(NAME)
    revision: Mapped[int] = mapped_column(index=True)
    deleted: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[int]
    updated_at: Mapped[int]


class DeploymentHeadRow(Base):
    __tablename__ = "deployment_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int]


class VersionWindowRow(Base):
    __tablename__ = "deployment_windows"
    __table_args__ = (Index("ix_deployment_windows_deployment_start", "deployment", "start"),)
    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    deployment: Mapped[str] = mapped_column(NAME)
    model: Mapped[str] = mapped_column(NAME)
    version: Mapped[int]
    role: Mapped[str] = mapped_column(String(20))
    start: Mapped[int]
    end: Mapped[int]
    requests: Mapped[int]
    errors: Mapped[int]
    #: ``{"<upper bound ms>": cumulative count}``; ``"inf"`` for the last bucket.
    latency_buckets: Mapped[dict[str, Any]] = mapped_column(JSON)
    compared: Mapped[int]
    agreed: Mapped[int]


class DecisionRow(Base):
    __tablename__ = "deployment_decisions"
    __table_args__ = (Index("ix_deployment_decisions_deployment_at", "deployment", "at"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    deployment: Mapped[str] = mapped_column(NAME)
    at: Mapped[int]
    action: Mapped[str] = mapped_column(String(20))
    revision: Mapped[int]  # the revision the decision produced
    weight: Mapped[int]  # the challenger's weight after the decision
    reason: Mapped[str] = mapped_column(String(1000))
    #: ``[{"name", "value", "threshold", "samples", "min_samples", "status"}]``
    checks: Mapped[list[Any]] = mapped_column(JSON)
    #: ``{"primary": {...}, "challenger": {...}}``: the summed figures the checks read.
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(NAME)


class LeaseRow(Base):
    """Who runs the canary decider until ``expires_at``: one holder at a time across replicas."""

    __tablename__ = "deployment_leases"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(250))
    expires_at: Mapped[int]
