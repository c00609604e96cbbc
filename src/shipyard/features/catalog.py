"""Storing and reading definition versions; listing and searching the catalog.

Helpers take the caller's connection and never commit: the service owns the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, String, cast, func, or_, select

from shipyard.core.ids import new_id
from shipyard.errors import NotFound
from shipyard.features.model import DefinitionSummary, DefinitionVersion
from shipyard.features.tables import FeatureDefinitionRow, FeatureDefinitionVersionRow
from shipyard.storage.metadata.base import table

defs_t = table(FeatureDefinitionRow)
versions_t = table(FeatureDefinitionVersionRow)

#: Kinds that produce features: their names share one namespace (``view:feature`` refs).
VIEW_KINDS = ("feature_view", "on_demand_feature_view")


def _summary(row: Any) -> DefinitionSummary:
    return DefinitionSummary(
        kind=row.kind,
        name=row.name,
        latest_version=row.latest_version,
        description=row.description,
        owner=row.owner,
        tags=dict(row.tags or {}),
        entities=tuple(row.entities or ()),
        features=tuple(row.features or ()),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _version(kind: str, name: str, row: Any) -> DefinitionVersion:
    return DefinitionVersion(
        kind=kind,
        name=name,
        version=row.version,
        spec=row.spec,
        spec_digest=row.spec_digest,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def latest_versions(conn: Connection) -> dict[tuple[str, str], DefinitionVersion]:
    """Every definition's latest version, by ``(kind, name)``."""
    rows = conn.execute(
        select(defs_t.c.kind, defs_t.c.name, versions_t)
        .join(versions_t, versions_t.c.definition_id == defs_t.c.id)
        .where(versions_t.c.version == defs_t.c.latest_version)
    ).all()
    return {(r.kind, r.name): _version(r.kind, r.name, r) for r in rows}


def get_version(
    conn: Connection, kinds: tuple[str, ...], name: str, version: int | None = None
) -> DefinitionVersion:
    """A definition of one of ``kinds`` at ``version`` (None: the latest)."""
    row = conn.execute(select(defs_t).where(defs_t.c.kind.in_(kinds), defs_t.c.name == name)).first()
    what = " or ".join(k.replace("_", " ") for k in kinds)
    if row is None:
        raise NotFound(f"no {what} named {name!r} is registered; run `shipyard features apply`", field="name")
    wanted = row.latest_version if version is None else version
    found = conn.execute(
        select(versions_t).where(versions_t.c.definition_id == row.id, versions_t.c.version == wanted)
    ).first()
    if found is None:
        raise NotFound(
            f"{row.kind.replace('_', ' ')} {name!r} has no version {wanted} (latest is {row.latest_version})",
            field="version",
        )
    return _version(row.kind, name, found)


def history(conn: Connection, kind: str, name: str) -> list[DefinitionVersion]:
    """Every version of a definition, oldest first."""
    rows = conn.execute(
        select(versions_t)
        .join(defs_t, versions_t.c.definition_id == defs_t.c.id)
        .where(defs_t.c.kind == kind, defs_t.c.name == name)
        .order_by(versions_t.c.version)
    ).all()
    return [_version(kind, name, r) for r in rows]


def write_version(
    conn: Connection, *, kind: str, name: str, spec: Mapping[str, Any], digest: str, actor: str, now: int
) -> int:
    """Append the next version of a definition (creating it at version 1); returns the number."""
    row = conn.execute(
        select(defs_t.c.id, defs_t.c.latest_version).where(defs_t.c.kind == kind, defs_t.c.name == name)
    ).first()
    searchable = {
        "description": str(spec.get("description", "")),
        "owner": str(spec.get("owner", "")),
        "tags": dict(spec.get("tags") or {}),
        "entities": list(spec.get("entities") or ()),
        "features": _feature_names(spec),
        "updated_at": now,
    }
    if row is None:
        definition_id, version = new_id(), 1
        conn.execute(
            defs_t.insert().values(
                id=definition_id, kind=kind, name=name, latest_version=1, created_at=now, **searchable
            )
        )
    else:
        definition_id, version = row.id, row.latest_version + 1
        conn.execute(
            defs_t.update().where(defs_t.c.id == definition_id).values(latest_version=version, **searchable)
        )
    conn.execute(
        versions_t.insert().values(
            id=new_id(),
            definition_id=definition_id,
            version=version,
            spec=dict(spec),
            spec_digest=digest,
            created_at=now,
            created_by=actor,
        )
    )
    return version


def _feature_names(spec: Mapping[str, Any]) -> list[str]:
    features = spec.get("features") or []
    return [f["name"] if isinstance(f, Mapping) else str(f) for f in features]


def list_definitions(
    conn: Connection,
    *,
    kind: str | None = None,
    entity: str | None = None,
    tags: Mapping[str, str] | None = None,
    owner: str | None = None,
    text: str | None = None,
) -> list[DefinitionSummary]:
    """Catalog entries matching every given filter, by kind then name. ``text`` matches names,
    descriptions, owners and feature names, case-insensitively."""
    query = select(defs_t).order_by(defs_t.c.kind, defs_t.c.name)
    if kind is not None:
        query = query.where(defs_t.c.kind == kind)
    if owner is not None:
        query = query.where(defs_t.c.owner == owner)
    if text:
        pattern = f"%{text.lower()}%"
        query = query.where(
            or_(
                func.lower(defs_t.c.name).like(pattern),
                func.lower(defs_t.c.description).like(pattern),
                func.lower(defs_t.c.owner).like(pattern),
            )
            | _json_text_like(defs_t.c.features, pattern)
            | _json_text_like(defs_t.c.tags, pattern)
        )
    found = [_summary(r) for r in conn.execute(query).all()]
    # Entity and tag filters are on JSON columns: filtered here, portable across SQLite and PostgreSQL.
    if entity is not None:
        found = [d for d in found if entity in d.entities or (d.kind == "entity" and d.name == entity)]
    for key, value in (tags or {}).items():
        found = [d for d in found if d.tags.get(key) == value]
    return found


def _json_text_like(column: Any, pattern: str) -> Any:
    return func.lower(cast(column, String)).like(pattern)
