"""The audit trail: records chain by hash, commit with the change they record, and any edit,
deletion or truncation is reported by verify with the first broken seq."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Executable, delete, select, update

from shipyard.app import App
from shipyard.audit import log
from shipyard.audit.chain import GENESIS, jsonable
from shipyard.audit.model import ChainReport
from shipyard.audit.service import AuditService
from shipyard.audit.tables import AuditHeadRow, AuditRecordRow
from shipyard.core import context
from shipyard.errors import InvalidInput
from shipyard.storage.metadata.base import table

records_t = table(AuditRecordRow)
head_t = table(AuditHeadRow)


@pytest.fixture
def audit(app: App) -> AuditService:
    return app.audit


def _append(app: App, action: str, object_type: str, object_id: str, **kw: object) -> None:
    with app.db.write() as conn:
        log.append(conn, actor="alice", action=action, object_type=object_type, object_id=object_id, **kw)  # type: ignore[arg-type]


def _fill(app: App, n: int) -> None:
    for i in range(n):
        _append(app, "model.create", "model", f"m{i}", after={"i": i})


def _tampered(app: App, n: int, statement: Executable) -> ChainReport:
    """``n`` records, then ``statement`` run on the database behind the trail's back: what verify says."""
    _fill(app, n)
    with app.db.write() as conn:
        conn.execute(statement)
    return app.audit.verify()


def test_records_chain_in_order_with_request_id(app: App, audit: AuditService) -> None:
    token = context.request_id.set("req-42")
    try:
        _append(app, "model.create", "model", "churn", after={"description": "x"})
    finally:
        context.request_id.reset(token)
    _append(app, "version.create", "model_version", "churn/1", before=None, after={"stage": "none"})
    first, second = audit.list()
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS and second.prev_hash == first.hash
    assert first.request_id == "req-42" and second.request_id is None
    assert first.actor == "alice" and first.after == {"description": "x"} and first.before is None
    report = audit.verify()
    assert report.valid and report.records == 2 and (report.head_seq, report.head_hash) == (2, second.hash)


def test_append_rolls_back_with_the_callers_transaction(app: App, audit: AuditService) -> None:
    _fill(app, 1)
    with pytest.raises(RuntimeError), app.db.write() as conn:
        log.append(conn, actor="alice", action="model.create", object_type="model", object_id="x")
        raise RuntimeError("the change failed")
    assert [r.object_id for r in audit.list()] == ["m0"]
    _fill(app, 1)
    assert [r.seq for r in audit.list()] == [1, 2]
    assert audit.verify().valid


def test_values_are_normalised_so_the_hash_survives_storage(app: App, audit: AuditService) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    _append(
        app,
        "alias.set",
        "alias",
        "churn/champion",
        before={"at": when, "tags": ("a", "b"), "score": float("nan")},
        after={"nested": {"z": 1, "a": [1.5, None]}, 3: "int key"},
    )
    (record,) = audit.list()
    assert record.before == {"at": when.isoformat(), "tags": ["a", "b"], "score": "nan"}
    assert record.after == {"nested": {"z": 1, "a": [1.5, None]}, "3": "int key"}
    assert audit.verify().valid


def test_jsonable_handles_sets_and_unknown_objects() -> None:
    assert jsonable({"s": {3, 1, 2}, "p": Path("/a")}) == {"s": [1, 2, 3], "p": "/a"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("actor", ""), ("action", "x" * 101), ("object_type", ""), ("object_id", "")],
)
def test_append_rejects_bad_fields_naming_them(app: App, field: str, value: str) -> None:
    args = {"actor": "alice", "action": "a.b", "object_type": "model", "object_id": "m", field: value}
    with pytest.raises(InvalidInput) as err, app.db.write() as conn:
        log.append(conn, **args)
    assert err.value.field == field


def test_empty_chain_is_valid(audit: AuditService) -> None:
    report = audit.verify()
    assert report.valid and report.records == 0 and report.broken_seq is None


def test_edited_record_is_reported(app: App) -> None:
    report = _tampered(app, 5, update(records_t).where(records_t.c.seq == 3).values(actor="mallory"))
    assert not report.valid
    assert report.broken_seq == 3
    assert report.reason is not None and report.reason.startswith("edited")


def test_edited_payload_is_reported(app: App) -> None:
    report = _tampered(app, 3, update(records_t).where(records_t.c.seq == 2).values(after={"i": 99}))
    assert (report.valid, report.broken_seq) == (False, 2)


def test_rehashed_edit_breaks_the_next_link(app: App, audit: AuditService) -> None:
    from shipyard.audit.chain import HASHED_FIELDS, record_hash

    _fill(app, 4)
    with app.db.write() as conn:
        row = conn.execute(select(records_t).where(records_t.c.seq == 2)).one()
        fields = {name: getattr(row, name) for name in HASHED_FIELDS} | {"actor": "mallory"}
        conn.execute(
            update(records_t)
            .where(records_t.c.seq == 2)
            .values(actor="mallory", hash=record_hash(row.prev_hash, fields))
        )
    report = audit.verify()
    assert (report.valid, report.broken_seq) == (False, 3)
    assert report.reason is not None and "prev_hash" in report.reason


def test_deleted_record_is_reported(app: App) -> None:
    report = _tampered(app, 5, delete(records_t).where(records_t.c.seq == 2))
    assert (report.valid, report.broken_seq) == (False, 2)
    assert report.reason is not None and report.reason.startswith("deleted")


def test_deleted_first_record_is_reported(app: App) -> None:
    assert _tampered(app, 3, delete(records_t).where(records_t.c.seq == 1)).broken_seq == 1


def test_deleted_newest_records_are_reported_thanks_to_the_head(app: App) -> None:
    report = _tampered(app, 5, delete(records_t).where(records_t.c.seq >= 4))
    assert (report.valid, report.broken_seq, report.head_seq) == (False, 4, 5)
    assert report.reason is not None and "4-5" in report.reason


def test_deleted_head_is_reported(app: App) -> None:
    report = _tampered(app, 2, delete(head_t))
    assert not report.valid and report.reason is not None and "head" in report.reason


def test_records_past_the_anchor_are_reported(app: App) -> None:
    second = select(records_t.c.hash).where(records_t.c.seq == 2).scalar_subquery()
    report = _tampered(app, 3, update(head_t).values(seq=2, hash=second))  # anchor rolled back
    assert (report.valid, report.broken_seq) == (False, 3)
    assert report.reason is not None and "past the head anchor" in report.reason


def test_anchor_with_another_hash_is_reported(app: App) -> None:
    report = _tampered(app, 2, update(head_t).values(hash="f" * 64))
    assert (report.valid, report.broken_seq) == (False, 2)
    assert report.reason is not None and "anchor" in report.reason


def test_next_append_after_a_deletion_keeps_the_gap_visible(app: App, audit: AuditService) -> None:
    _fill(app, 3)
    with app.db.write() as conn:
        conn.execute(delete(records_t).where(records_t.c.seq == 3))
    _fill(app, 1)  # continues from the anchor (seq 4), it does not paper over the hole
    assert [r.seq for r in audit.list()] == [1, 2, 4]
    assert audit.verify().broken_seq == 3


def test_verify_walks_more_than_one_batch(
    app: App, audit: AuditService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shipyard.audit import verify

    monkeypatch.setattr(verify, "BATCH", 2)
    _fill(app, 5)
    assert audit.verify().records == 5
    with app.db.write() as conn:
        conn.execute(update(records_t).where(records_t.c.seq == 5).values(object_id="zz"))
    assert audit.verify().broken_seq == 5


def test_list_filters(app: App, audit: AuditService) -> None:
    _append(app, "model.create", "model", "churn")
    _append(app, "role.grant", "role_grant", "bob")
    with app.db.write() as conn:
        log.append(conn, actor="bob", action="model.rollback", object_type="model", object_id="churn")
    assert [r.seq for r in audit.list(actor="bob")] == [3]
    assert [r.seq for r in audit.list(action="model.*")] == [1, 3]
    assert [r.seq for r in audit.list(action="role.grant")] == [2]
    assert [r.seq for r in audit.list(object_type="model", object_id="churn")] == [1, 3]
    assert [r.seq for r in audit.list(limit=1, offset=1)] == [2]
    assert audit.list(since=datetime(2100, 1, 1, tzinfo=UTC)) == []
    with pytest.raises(InvalidInput) as err:
        audit.list(limit=0)
    assert err.value.field == "limit"


def _model_trail(app: App) -> None:
    _append(app, "model.create", "model", "churn")
    _append(app, "version.create", "model_version", "churn/1")
    _append(app, "alias.set", "alias", "churn/champion", after={"version": 1})
    _append(app, "approval.request", "approval", "churn/1")
    _append(app, "model.create", "model", "churn_v2")  # shares a prefix, not the model
    _append(app, "model.create", "model", "chur%")  # LIKE wildcards must not leak in
    _append(app, "role.grant", "role_grant", "churn")  # right id, not a model object
    _append(app, "version.create", "model_version", "other/1")


def test_export_json_selects_a_models_records(app: App, audit: AuditService) -> None:
    _model_trail(app)
    exported = json.loads(audit.export(model="churn", format="json"))
    assert [(r["object_type"], r["object_id"]) for r in exported] == [
        ("model", "churn"),
        ("model_version", "churn/1"),
        ("alias", "churn/champion"),
        ("approval", "churn/1"),
    ]
    assert exported[2]["after"] == {"version": 1}
    assert set(exported[0]) >= {"seq", "at", "actor", "action", "hash", "prev_hash", "request_id"}
    assert json.loads(audit.export(model="chur", format="json")) == []


def test_export_csv(app: App, audit: AuditService) -> None:
    _model_trail(app)
    rows = list(csv.DictReader(io.StringIO(audit.export(model="churn", format="csv"))))
    assert [r["object_id"] for r in rows] == ["churn", "churn/1", "churn/champion", "churn/1"]
    assert json.loads(rows[2]["after"]) == {"version": 1}
    assert rows[0]["before"] == "" and rows[0]["seq"] == "1"
    everything = list(csv.DictReader(io.StringIO(audit.export(format="csv"))))
    assert len(everything) == 8


def test_export_rejects_unknown_format(audit: AuditService) -> None:
    with pytest.raises(InvalidInput) as err:
        audit.export(model="churn", format="xml")
    assert err.value.field == "format" and "csv" in err.value.message
