"""Audit rows: the hash-chained records and the one-row anchor of the chain's head."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.storage.metadata.base import Base


class AuditRecordRow(Base):
    __tablename__ = "audit_records"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: 1, 2, 3 … without gaps: appends are serialized (see :mod:`shipyard.audit.log`).
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[int] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(250), index=True)
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str] = mapped_column(String(500))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(128))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_records_object", "object_type", "object_id"),)


class AuditHeadRow(Base):
    """The last record's seq and hash, updated with every append: deleting the newest records
    leaves the anchor pointing past the end of the chain, which :func:`verify` reports."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
