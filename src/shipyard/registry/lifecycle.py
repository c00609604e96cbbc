"""The version lifecycle: which stage may follow which, and the moves that keep "at most one
production version" true. Functions here run inside the caller's write transaction, after the
caller locked the model row (:func:`shipyard.registry.records.model_row` with ``lock=True``), so
two concurrent promotions are serialized and the second sees the first's result.

``registered → staging → production → archived``; ``retired`` is final. An archived version may go
back to staging or production (that is how a rollback restores one).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from shipyard.audit import log as audit
from shipyard.core.clock import now_ms
from shipyard.errors import Conflict
from shipyard.registry import records
from shipyard.registry.entities import Stage
from shipyard.registry.records import aliases_t, transitions_t, versions_t

LEGAL: dict[Stage, frozenset[Stage]] = {
    Stage.REGISTERED: frozenset({Stage.STAGING, Stage.ARCHIVED, Stage.RETIRED}),
    Stage.STAGING: frozenset({Stage.PRODUCTION, Stage.ARCHIVED, Stage.RETIRED}),
    Stage.PRODUCTION: frozenset({Stage.ARCHIVED, Stage.RETIRED}),
    Stage.ARCHIVED: frozenset({Stage.STAGING, Stage.PRODUCTION, Stage.RETIRED}),
    Stage.RETIRED: frozenset(),
}

CHAMPION = "champion"


def check_legal(ref: str, current: Stage, target: Stage) -> None:
    """Conflict naming from, to and the legal targets when ``current -> target`` is not allowed."""
    legal = LEGAL[current]
    if target not in legal:
        options = ", ".join(sorted(s.value for s in legal)) or "none: retired is final"
        raise Conflict(
            f"{ref} cannot move from {current.value} to {target.value} (legal from {current.value}: {options})",
            field="stage",
        )


def move(
    conn: Connection, model: Any, version: Any, target: Stage, *, actor: str, comment: str = ""
) -> list[int]:
    """Move ``version`` to ``target``, archiving the other production versions first when the model
    allows only one. Returns the versions archived that way. Every move is recorded and audited."""
    current = Stage(version.stage)
    check_legal(f"{model.name}/{version.version}", current, target)
    displaced: list[int] = []
    if target is Stage.PRODUCTION and not model.allow_multiple_production:
        others = conn.execute(
            select(versions_t)
            .where(
                versions_t.c.model_id == model.id,
                versions_t.c.stage == Stage.PRODUCTION.value,
                versions_t.c.version != version.version,
            )
            .order_by(versions_t.c.version)
        ).all()
        for other in others:
            _set_stage(
                conn,
                model,
                other,
                Stage.ARCHIVED,
                actor=actor,
                comment=f"replaced by version {version.version}",
            )
            displaced.append(other.version)
    _set_stage(conn, model, version, target, actor=actor, comment=comment)
    return displaced


def _set_stage(
    conn: Connection, model: Any, version: Any, target: Stage, *, actor: str, comment: str
) -> None:
    now = now_ms()
    conn.execute(
        update(versions_t).where(versions_t.c.id == version.id).values(stage=target.value, updated_at=now)
    )
    conn.execute(
        transitions_t.insert(),
        {
            "model_id": model.id,
            "version": version.version,
            "from_stage": version.stage,
            "to_stage": target.value,
            "actor": actor,
            "comment": comment,
            "created_at": now,
        },
    )
    audit.append(
        conn,
        actor=actor,
        action="version.transition",
        object_type="model_version",
        object_id=f"{model.name}/{version.version}",
        before={"stage": version.stage},
        after={"stage": target.value, "comment": comment},
    )


def rollback(conn: Connection, model: Any, *, actor: str, comment: str = "") -> tuple[int, int]:
    """Archive the current production version and restore the one that was in production before
    it (per the transition history); the ``champion`` alias follows if it pointed at the current
    one. Returns (rolled back version, restored version). Gates are not re-checked: a rollback
    returns to a version that passed them when it was promoted."""
    history = conn.execute(
        select(transitions_t.c.version)
        .where(transitions_t.c.model_id == model.id, transitions_t.c.to_stage == Stage.PRODUCTION.value)
        .order_by(transitions_t.c.id.desc())
    ).all()
    stages = {
        r.version: Stage(r.stage)
        for r in conn.execute(
            select(versions_t.c.version, versions_t.c.stage).where(versions_t.c.model_id == model.id)
        )
    }
    promoted = [r.version for r in history]
    current = next((v for v in promoted if stages.get(v) is Stage.PRODUCTION), None)
    if current is None:
        raise Conflict(f"model {model.name!r} has no production version to roll back", field="name")
    previous = next(
        (v for v in promoted if v != current and stages.get(v) in (Stage.ARCHIVED, Stage.STAGING)), None
    )
    if previous is None:
        raise Conflict(
            f"model {model.name!r} has no earlier production version to roll back to "
            f"(version {current} is the first one still available)",
            field="name",
        )
    current_row = records.version_row(conn, model, current)
    previous_row = records.version_row(conn, model, previous)
    note = comment or f"rollback from version {current}"
    _set_stage(conn, model, current_row, Stage.ARCHIVED, actor=actor, comment=note)
    move(conn, model, previous_row, Stage.PRODUCTION, actor=actor, comment=note)
    champion = records.aliases_of(conn, model.id).get(CHAMPION)
    if champion == current:
        conn.execute(
            update(aliases_t)
            .where(aliases_t.c.model_id == model.id, aliases_t.c.alias == CHAMPION)
            .values(version=previous)
        )
        audit.append(
            conn,
            actor=actor,
            action="alias.set",
            object_type="alias",
            object_id=f"{model.name}/{CHAMPION}",
            before={"version": current},
            after={"version": previous},
        )
    audit.append(
        conn,
        actor=actor,
        action="model.rollback",
        object_type="model",
        object_id=model.name,
        before={"production": current},
        after={"production": previous},
    )
    return current, previous
