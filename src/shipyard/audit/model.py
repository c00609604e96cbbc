"""What the audit trail talks about: records and the result of verifying the chain."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ExportFormat = Literal["csv", "json"]

#: The object types that belong to a model, for :meth:`AuditService.export` ``model=``.
MODEL_OBJECT_TYPES = ("model", "model_version", "alias", "approval")


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    id: str
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    before: Mapping[str, object] | None
    after: Mapping[str, object] | None
    request_id: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainReport:
    """The outcome of walking the chain: ``valid``, or the first broken seq and why."""

    valid: bool
    records: int
    head_seq: int
    broken_seq: int | None = None
    reason: str | None = None
    #: The anchor's hash: keep (head_seq, head_hash) outside the database to detect a rewrite.
    head_hash: str | None = None
