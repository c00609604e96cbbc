"""Use cases over the audit trail: list with filters, verify the chain, export a model's trail."""

from __future__ import annotations

from datetime import datetime

from shipyard.audit import export as exporting
from shipyard.audit import records
from shipyard.audit.model import AuditRecord, ChainReport
from shipyard.audit.verify import verify_chain
from shipyard.core.clock import to_ms
from shipyard.errors import InvalidInput
from shipyard.storage.metadata.database import Database

MAX_LIMIT = 10_000


class AuditService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        model: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditRecord]:
        """Records matching every filter, oldest first (``action="model.*"`` matches a prefix;
        ``model`` selects a model's own records and its versions', aliases' and approvals')."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, got {limit}", field="limit")
        if offset < 0:
            raise InvalidInput(f"offset must be >= 0, got {offset}", field="offset")
        stmt = records.query(
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            model=model,
            since_ms=None if since is None else to_ms(since),
            until_ms=None if until is None else to_ms(until),
        )
        with self.db.read() as conn:
            return [records.to_record(r) for r in conn.execute(stmt.limit(limit).offset(offset))]

    def verify(self) -> ChainReport:
        """Walk the whole chain; see :mod:`shipyard.audit.verify` for what is detected."""
        with self.db.read() as conn:
            return verify_chain(conn)

    def export(self, *, model: str | None = None, format: str = "json") -> str:
        """Every record (or every record of ``model``) rendered as ``csv`` or ``json``."""
        fmt = exporting.check_format(format)
        if model is not None and not model:
            raise InvalidInput("model must not be empty", field="model")
        with self.db.read() as conn:
            rows = conn.execute(records.query(model=model))
            return exporting.render((records.to_record(r) for r in rows), fmt)
