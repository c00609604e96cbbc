"""Trigger rows. They never leave the domain: :mod:`.records` maps them to :mod:`.model`.
Times are epoch ms. The firing key is unique: inserting a firing is ``ON CONFLICT DO NOTHING``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.storage.metadata.base import Base

ID = String(32)
NAME = String(250)


class TriggerRow(Base):
    __tablename__ = "pipeline_triggers"
    __table_args__ = (Index("ix_pipeline_triggers_due", "enabled", "next_check_at"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    pipeline: Mapped[str] = mapped_column(NAME, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    enabled: Mapped[bool]
    cooldown_s: Mapped[int]
    max_concurrent: Mapped[int | None]
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[int]
    updated_at: Mapped[int]
    last_fired_at: Mapped[int | None]
    next_check_at: Mapped[int | None]
    cursor: Mapped[str | None] = mapped_column(String(500))


class FiringRow(Base):
    __tablename__ = "pipeline_trigger_firings"
    __table_args__ = (
        Index("ix_pipeline_trigger_firings_trigger", "trigger_id", "created_at"),
        Index("ix_pipeline_trigger_firings_status", "status", "created_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    trigger_id: Mapped[str] = mapped_column(ID, ForeignKey("pipeline_triggers.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(400), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[int]
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    run_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(ID)
    claimed_at: Mapped[int | None]
    created_at: Mapped[int]
    submitted_at: Mapped[int | None]
