"""Role grants inside a transaction: the queries :class:`~.service.AccountsService` composes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, select

from shipyard.accounts.model import Grant
from shipyard.accounts.tables import RoleGrantRow, UserRow
from shipyard.core.clock import to_datetime
from shipyard.storage.metadata.base import table

users_t = table(UserRow)
grants_t = table(RoleGrantRow)


def to_grant(row: Any) -> Grant:
    return Grant(
        id=row.id,
        user=row.user_name,
        role=row.role,
        scope=row.scope,
        granted_by=row.granted_by,
        granted_at=to_datetime(row.granted_at),
    )


def grants_query() -> Any:
    return (
        select(grants_t, users_t.c.name.label("user_name"))
        .join(users_t, users_t.c.id == grants_t.c.user_id)
        .order_by(users_t.c.name, grants_t.c.scope, grants_t.c.role)
    )


def find(conn: Connection, user_id: str, role: str, scope: str) -> Grant | None:
    row = conn.execute(
        grants_query().where(
            and_(grants_t.c.user_id == user_id, grants_t.c.role == role, grants_t.c.scope == scope)
        )
    ).first()
    return None if row is None else to_grant(row)


def roles_of(conn: Connection, user: str, scopes: list[str]) -> set[str]:
    """The roles an enabled ``user`` holds in any of ``scopes`` (empty for unknown or disabled users)."""
    rows = conn.execute(
        select(grants_t.c.role)
        .join(users_t, users_t.c.id == grants_t.c.user_id)
        .where(users_t.c.name == user, users_t.c.disabled.is_(False), grants_t.c.scope.in_(scopes))
    )
    return {r.role for r in rows}
