"""Aliases and tags: the mutable names on models and versions. Functions run inside the caller's
write transaction, after it locked the model row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, update

from shipyard.audit import log as audit
from shipyard.core.clock import now_ms
from shipyard.errors import Conflict, NotFound
from shipyard.registry import records
from shipyard.registry.entities import Stage
from shipyard.registry.records import aliases_t, models_t, versions_t


def set_alias(conn: Connection, model: Any, version: Any, alias: str, *, actor: str) -> None:
    """Point ``alias`` at ``version``, moving it if it pointed elsewhere (one version per alias)."""
    if version.stage == Stage.RETIRED:
        raise Conflict(f"{model.name}/{version.version} is retired and cannot hold an alias", field="version")
    before = records.aliases_of(conn, model.id).get(alias)
    if before is None:
        conn.execute(aliases_t.insert(), {"model_id": model.id, "alias": alias, "version": version.version})
    else:
        conn.execute(
            update(aliases_t)
            .where(aliases_t.c.model_id == model.id, aliases_t.c.alias == alias)
            .values(version=version.version)
        )
    audit.append(
        conn,
        actor=actor,
        action="alias.set",
        object_type="alias",
        object_id=f"{model.name}/{alias}",
        before=None if before is None else {"version": before},
        after={"version": version.version},
    )


def delete_alias(conn: Connection, model: Any, alias: str, *, actor: str) -> None:
    before = records.aliases_of(conn, model.id).get(alias)
    if before is None:
        raise NotFound(f"model {model.name!r} has no alias {alias!r}", field="alias")
    conn.execute(aliases_t.delete().where(aliases_t.c.model_id == model.id, aliases_t.c.alias == alias))
    audit.append(
        conn,
        actor=actor,
        action="alias.delete",
        object_type="alias",
        object_id=f"{model.name}/{alias}",
        before={"version": before},
    )


def change_tags(
    conn: Connection, model: Any, version: Any | None, *, actor: str, set_: dict[str, str], delete: str = ""
) -> None:
    """Merge ``set_`` into the tags of the model (``version`` None) or of the version, or remove
    the tag ``delete`` (NotFound if it is not there)."""
    target, table_ = (model, models_t) if version is None else (version, versions_t)
    label = model.name if version is None else f"{model.name}/{version.version}"
    before = dict(target.tags or {})
    after = {**before, **set_}
    if delete:
        if delete not in after:
            raise NotFound(f"{label} has no tag {delete!r}", field="key")
        del after[delete]
    conn.execute(update(table_).where(table_.c.id == target.id).values(tags=after, updated_at=now_ms()))
    audit.append(
        conn,
        actor=actor,
        action="tag.delete" if delete else "tag.set",
        object_type="model" if version is None else "model_version",
        object_id=label,
        before={"tags": before},
        after={"tags": after},
    )
