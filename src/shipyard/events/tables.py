"""Event log rows: the events, the one-row head of the sequence, and each consumer's cursor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.storage.metadata.base import Base


class EventRow(Base):
    __tablename__ = "event_log"
    #: 1, 2, 3 … without gaps, in commit order: appends are serialized (see :mod:`shipyard.events.log`).
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    at: Mapped[int] = mapped_column()
    actor: Mapped[str] = mapped_column(String(250))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (Index("ix_event_log_type_seq", "type", "seq"),)


class EventHeadRow(Base):
    """The last assigned seq (one row); incremented by every publish under the append lock."""

    __tablename__ = "event_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)


class EventCursorRow(Base):
    """A consumer's durable position: every event with ``seq <= position`` has been handled."""

    __tablename__ = "event_cursors"
    consumer: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column()
