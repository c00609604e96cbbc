"""Rendering records for people and tools outside Shipyard: CSV (one row a record, ``before`` and
``after`` as JSON text) or JSON (a list of objects). Both carry every hashed field plus the hashes,
so an exported trail can be checked against the chain.

In CSV, a text cell that a spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) is written with a leading ``'``; strip that one character to
check such a cell against the chain."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from shipyard.audit.chain import HASHED_FIELDS
from shipyard.audit.model import AuditRecord, ExportFormat
from shipyard.errors import InvalidInput

COLUMNS = (*HASHED_FIELDS, "prev_hash", "hash")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: object) -> object:
    """``cell`` as a spreadsheet shows it as text, never runs it as a formula."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell


def as_dict(record: AuditRecord) -> dict[str, object]:
    return {
        "seq": record.seq,
        "id": record.id,
        "at": record.at.isoformat(),
        "actor": record.actor,
        "action": record.action,
        "object_type": record.object_type,
        "object_id": record.object_id,
        "before": record.before,
        "after": record.after,
        "request_id": record.request_id,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }


def render(records: Iterable[AuditRecord], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([as_dict(r) for r in records], indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for record in records:
            row = as_dict(record)
            for name in ("before", "after"):
                value = row[name]
                row[name] = "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)
            writer.writerow(["" if row[c] is None else neutralise(row[c]) for c in COLUMNS])
        return out.getvalue()
    raise InvalidInput(f"export format must be 'csv' or 'json', got {fmt!r}", field="format")


def check_format(fmt: str) -> ExportFormat:
    if fmt == "csv":
        return "csv"
    if fmt == "json":
        return "json"
    raise InvalidInput(f"export format must be 'csv' or 'json', got {fmt!r}", field="format")
