"""Recording firings and submitting them: the two halves that make firing exactly-once.

A firing is first recorded as ``pending`` under its unique key (``INSERT … ON CONFLICT DO
NOTHING``, in the same transaction that moves the trigger's cursor), then claimed (``pending`` ->
``submitting``, with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so two schedulers claim different
rows), submitted to the launcher with its key as ``firing_key``, and marked ``submitted`` with the
run id. A scheduler that dies between claim and mark leaves a ``submitting`` row whose lease
expires; the next claim submits it again with the same key, which the launcher answers with the
run it already started. A pending firing of a trigger at its ``max_concurrent`` waits.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

from sqlalchemy import BigInteger, Connection, and_, bindparam, func, or_, select, update

from shipyard.core.clock import now_ms, to_datetime
from shipyard.core.ids import new_id
from shipyard.errors import BackendUnavailable, ConfigError, ShipyardError
from shipyard.pipelines.triggers.model import Firing, FiringStatus
from shipyard.pipelines.triggers.ports import PipelineLauncher
from shipyard.pipelines.triggers.records import firing_of, firings_t, triggers_t
from shipyard.storage.metadata.database import Database

log = logging.getLogger(__name__)

#: A claimed firing not marked submitted after this long is claimed again.
DEFAULT_LEASE_S = 60.0
CLAIM_BATCH = 200


@dataclass(frozen=True)
class NewFiring:
    key: str
    due_at: int
    params: Mapping[str, object]
    detail: Mapping[str, object]
    status: FiringStatus = FiringStatus.PENDING


def record(conn: Connection, trigger_id: str, firings: Sequence[NewFiring]) -> int:
    """Insert ``firings`` of a trigger, skipping keys recorded before; how many were new."""
    return record_many(conn, [(trigger_id, f) for f in firings])


_FIRING_COLUMNS = ("id", "trigger_id", "key", "status", "due_at", "params", "detail", "created_at")


def record_many(conn: Connection, firings: Sequence[tuple[str, NewFiring]]) -> int:
    """Insert (trigger id, firing) pairs, skipping keys recorded before; how many were new.

    Straight through the driver's ``executemany`` (a tick records thousands at once)."""
    if not firings:
        return 0
    at = now_ms()
    rows = [
        (
            new_id(),
            trigger_id,
            f"{trigger_id}/{f.key}"[:400],
            f.status.value,
            f.due_at,
            json.dumps(dict(f.params), default=str),
            json.dumps(dict(f.detail), default=str),
            at,
        )
        for trigger_id, f in firings
    ]
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    quote = conn.dialect.identifier_preparer.quote
    conn.exec_driver_sql(
        f"INSERT INTO {quote(firings_t.name)} ({', '.join(quote(c) for c in _FIRING_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(_FIRING_COLUMNS))}) ON CONFLICT ({quote('key')}) DO NOTHING",
        rows,
    )
    ids = [r[0] for r in rows]
    inserted = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        inserted += conn.execute(select(func.count()).where(firings_t.c.id.in_(chunk))).scalar_one()
    return inserted


def _claim(db: Database, claimer: str, lease_s: float, only: Sequence[str] | None) -> list[Any]:
    now = now_ms()
    stale = now - int(lease_s * 1000)
    claimable = or_(
        firings_t.c.status == FiringStatus.PENDING.value,
        and_(firings_t.c.status == FiringStatus.SUBMITTING.value, firings_t.c.claimed_at < stale),
    )
    query = (
        select(firings_t, triggers_t.c.name, triggers_t.c.pipeline, triggers_t.c.max_concurrent)
        .join(triggers_t, triggers_t.c.id == firings_t.c.trigger_id)
        .where(claimable, triggers_t.c.enabled.is_(True) if only is None else firings_t.c.id.in_(only))
        .order_by(firings_t.c.created_at, firings_t.c.due_at)
        .limit(CLAIM_BATCH)
    )
    with db.write() as conn:
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=firings_t)
        rows = list(conn.execute(query).all())
        if rows:
            conn.execute(
                update(firings_t)
                .where(firings_t.c.id.in_([r.id for r in rows]))
                .values(status=FiringStatus.SUBMITTING.value, claimed_by=claimer, claimed_at=now)
            )
    return [SimpleNamespace(**{**r._mapping, "claimed_by": claimer, "claimed_at": now}) for r in rows]


def _finish(db: Database, claimer: str, outcomes: Sequence[dict[str, Any]]) -> None:
    """Mark a claimed batch in one statement (rows another scheduler re-claimed are left alone)."""
    if not outcomes:
        return
    with db.write() as conn:
        conn.execute(
            update(firings_t)
            .where(firings_t.c.id == bindparam("b_id"), firings_t.c.claimed_by == claimer)
            .values(
                status=bindparam("b_status"),
                run_id=bindparam("b_run"),
                error=bindparam("b_error"),
                submitted_at=bindparam("b_at", type_=BigInteger),
                claimed_by=bindparam("b_claimer"),
                claimed_at=bindparam("b_claimed", type_=BigInteger),
            ),
            list(outcomes),
        )


def _outcome(row: Any, status: FiringStatus, **values: Any) -> dict[str, Any]:
    keep = status is not FiringStatus.PENDING  # a released firing is claimable again at once
    return {
        "b_id": row.id,
        "b_status": status.value,
        "b_run": values.get("run_id"),
        "b_error": values.get("error"),
        "b_at": values.get("submitted_at"),
        "b_claimer": row.claimed_by if keep else None,
        "b_claimed": row.claimed_at if keep else None,
    }


def submit_pending(
    db: Database,
    launcher: PipelineLauncher,
    *,
    lease_s: float = DEFAULT_LEASE_S,
    only: Sequence[str] | None = None,
) -> list[Firing]:
    """Claim pending firings (of enabled triggers, or exactly the ids in ``only``), submit each
    whose trigger has room under ``max_concurrent``, and return the firings submitted or failed."""
    claimer = new_id()
    done: list[Firing] = []
    active: dict[str, int] = {}
    outcomes: list[dict[str, Any]] = []
    for row in _claim(db, claimer, lease_s, only):
        if row.max_concurrent is not None:
            running = active.get(row.trigger_id)
            if running is None:
                running = launcher.active_runs(row.trigger_id)
            active[row.trigger_id] = running
            if running >= row.max_concurrent:
                outcomes.append(_outcome(row, FiringStatus.PENDING))
                continue
            active[row.trigger_id] = running + 1
        values: dict[str, Any]
        try:
            run_id = launcher.submit(
                row.pipeline,
                row.params or {},
                started_by=str((row.detail or {}).get("by") or f"trigger:{row.name}"),
                trigger_id=row.trigger_id,
                firing_key=row.key,
            )
        except (BackendUnavailable, ConfigError) as exc:  # try again on the next tick
            log.warning("cannot submit firing %s: %s", row.key, exc)
            outcomes.append(_outcome(row, FiringStatus.PENDING))
            continue
        except ShipyardError as exc:  # the launcher refused it: retrying will not help
            values = {"status": FiringStatus.FAILED, "error": str(exc)[:2000]}
        else:
            values = {"status": FiringStatus.SUBMITTED, "run_id": run_id, "submitted_at": now_ms()}
        at = values.pop("submitted_at", None)
        outcomes.append(_outcome(row, submitted_at=at, **values))
        done.append(replace(firing_of(row), **values, submitted_at=None if at is None else to_datetime(at)))
    _finish(db, claimer, outcomes)
    return done
