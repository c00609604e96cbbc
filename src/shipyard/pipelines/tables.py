"""Pipeline rows. Runs are referenced by tracking run id without a foreign key (pipelines do not
depend on the tracking tables). Times are epoch ms."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.storage.metadata.base import Base

ID = String(32)
NAME = String(128)
DIGEST = String(71)
STATE = String(20)


class PipelineRow(Base):
    __tablename__ = "pipelines"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    latest_version: Mapped[str] = mapped_column(DIGEST)
    created_at: Mapped[int]
    updated_at: Mapped[int]


class PipelineVersionRow(Base):
    __tablename__ = "pipeline_versions"
    __table_args__ = (
        UniqueConstraint("pipeline_id", "version", name="uq_pipeline_versions_pipeline_version"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    pipeline_id: Mapped[str] = mapped_column(ID, ForeignKey("pipelines.id"))
    version: Mapped[str] = mapped_column(DIGEST)
    ref: Mapped[str] = mapped_column(String(500))
    source_digest: Mapped[str] = mapped_column(DIGEST)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    applied_by: Mapped[str] = mapped_column(String(250))
    created_at: Mapped[int]


class PipelineRunRow(Base):
    __tablename__ = "pipeline_runs"
    __table_args__ = (
        Index("ix_pipeline_runs_pipeline", "pipeline_id", "created_at"),
        Index("ix_pipeline_runs_trigger", "trigger_id", "state"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)  # the tracking run id
    pipeline_id: Mapped[str] = mapped_column(ID, ForeignKey("pipelines.id"))
    version: Mapped[str] = mapped_column(DIGEST)
    state: Mapped[str] = mapped_column(STATE)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    started_by: Mapped[str] = mapped_column(String(250))
    trigger_id: Mapped[str | None] = mapped_column(String(128))
    firing_key: Mapped[str | None] = mapped_column(String(250), unique=True)
    executor: Mapped[str] = mapped_column(String(50))
    cache: Mapped[bool]
    resumed_from: Mapped[str | None] = mapped_column(ID)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int]
    started_at: Mapped[int | None]
    finished_at: Mapped[int | None]
    heartbeat_at: Mapped[int | None]  # written every few seconds by the process executing the run


class StepRunRow(Base):
    __tablename__ = "pipeline_step_runs"
    __table_args__ = (
        UniqueConstraint("pipeline_run_id", "node", name="uq_pipeline_step_runs_run_node"),
        Index("ix_pipeline_step_runs_cache", "cache_key", "state"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    pipeline_run_id: Mapped[str] = mapped_column(ID, ForeignKey("pipeline_runs.id"))
    node: Mapped[str] = mapped_column(NAME)
    step: Mapped[str] = mapped_column(NAME)
    step_version: Mapped[str] = mapped_column(DIGEST)
    state: Mapped[str] = mapped_column(STATE)
    run_id: Mapped[str | None] = mapped_column(ID)  # the nested tracking run
    attempt: Mapped[int]
    cache_key: Mapped[str | None] = mapped_column(DIGEST)
    cached_from: Mapped[str | None] = mapped_column(ID)
    output_digest: Mapped[str | None] = mapped_column(DIGEST)
    output_kind: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[int | None]
    finished_at: Mapped[int | None]
