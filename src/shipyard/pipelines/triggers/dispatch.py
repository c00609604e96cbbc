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

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from shipyard.core.clock import now_ms
from shipyard.core.ids import new_id
from shipyard.errors import BackendUnavailable, ConfigError, ShipyardError
from shipyard.pipelines.triggers.model import Firing, FiringStatus
from shipyard.pipelines.triggers.ports import PipelineLauncher
from shipyard.pipelines.triggers.records import firing_of, firings_t, triggers_t
from shipyard.storage.metadata.database import Database
from shipyard.storage.metadata.upsert import insert_ignore

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
    at = now_ms()
    rows = [
        {
            "id": new_id(),
            "trigger_id": trigger_id,
            "key": f"{trigger_id}/{f.key}"[:400],
            "status": f.status.value,
            "due_at": f.due_at,
            "params": dict(f.params),
            "detail": dict(f.detail),
            "run_id": None,
            "error": None,
            "claimed_by": None,
            "claimed_at": None,
            "created_at": at,
            "submitted_at": None,
        }
        for f in firings
    ]
    return insert_ignore(conn, firings_t, rows)


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
    return rows


def _finish(db: Database, firing_id: str, claimer: str, **values: Any) -> None:
    with db.write() as conn:
        conn.execute(
            update(firings_t)
            .where(firings_t.c.id == firing_id, firings_t.c.claimed_by == claimer)
            .values(**values)
        )


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
    for row in _claim(db, claimer, lease_s, only):
        if row.max_concurrent is not None:
            running = active.get(row.trigger_id)
            if running is None:
                running = launcher.active_runs(row.trigger_id)
            if running >= row.max_concurrent:
                _finish(
                    db, row.id, claimer, status=FiringStatus.PENDING.value, claimed_by=None, claimed_at=None
                )
                active[row.trigger_id] = running
                continue
            active[row.trigger_id] = running + 1
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
            _finish(db, row.id, claimer, status=FiringStatus.PENDING.value, claimed_by=None, claimed_at=None)
            continue
        except ShipyardError as exc:  # the launcher refused it: retrying will not help
            _finish(db, row.id, claimer, status=FiringStatus.FAILED.value, error=str(exc)[:2000])
        else:
            _finish(
                db, row.id, claimer, status=FiringStatus.SUBMITTED.value, run_id=run_id, submitted_at=now_ms()
            )
        with db.read() as conn:
            done.append(firing_of(conn.execute(select(firings_t).where(firings_t.c.id == row.id)).one()))
    return done
