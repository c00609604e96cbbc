"""Users, API tokens and role grants. Token secrets are random, shown once, and stored only as a
sha256. Every change writes an audit record in its own transaction (:mod:`shipyard.audit.log`);
the acting user is the keyword ``actor`` (``"system"`` when called on the server host outside any
request, e.g. by ``shipyard users create``)."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from collections.abc import Callable, Hashable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, delete, func, select, update

from shipyard.accounts import grants
from shipyard.accounts.model import Grant, IssuedToken, Principal, Token, TokenId, User, UserId
from shipyard.accounts.permissions import (
    GLOBAL,
    ROLES,
    applicable_scopes,
    check_action,
    check_role,
    scope_of,
)
from shipyard.accounts.tables import TokenRow, UserRow
from shipyard.accounts.token_cache import DEFAULT_TTL, TtlCache
from shipyard.audit.log import append
from shipyard.core.clock import now_ms, to_datetime
from shipyard.core.ids import new_id
from shipyard.errors import AlreadyExists, Conflict, InvalidInput, NotFound, Unauthenticated
from shipyard.storage.metadata.base import table
from shipyard.storage.metadata.database import Database

users_t = table(UserRow)
tokens_t = table(TokenRow)
grants_t = grants.grants_t

TOKEN_PREFIX = "shp_"
#: The actor recorded for changes made on the server host outside any request (CLI bootstrap).
SYSTEM_ACTOR = "system"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _user(row: Any) -> User:
    return User(UserId(row.id), row.name, to_datetime(row.created_at), bool(row.disabled))


def _token(row: Any) -> Token:
    return Token(
        id=TokenId(row.id),
        user_id=UserId(row.user_id),
        name=row.name,
        created_at=to_datetime(row.created_at),
        expires_at=to_datetime(row.expires_at),
        revoked_at=to_datetime(row.revoked_at),
        last_used_at=to_datetime(row.last_used_at),
    )


def _token_audit(token: Token, user: str) -> dict[str, object]:
    # Never the secret nor its hash: the audit trail is readable by reviewers.
    return {
        "id": token.id,
        "user": user,
        "name": token.name,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    }


def _grant_audit(grant: Grant) -> dict[str, object]:
    return {"user": grant.user, "role": grant.role, "scope": grant.scope}


#: User names: plain ASCII, so that no two names look alike and none carries markup or controls.
MAX_USER_NAME = 64
USER_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._@-]{{0,{MAX_USER_NAME - 1}}}")
#: A token's lifetime when none is given, and the longest one may ask for.
DEFAULT_TOKEN_LIFETIME = timedelta(days=90)
MAX_TOKEN_LIFETIME = timedelta(days=3650)
#: ``last_used_at`` is written at most this often per token (a write per request would be wasteful).
LAST_USE_RESOLUTION_MS = 60_000


def _keep_an_admin(conn: Connection, user_id: str, what: str) -> None:
    """Refuse (409) a change that would leave no enabled user holding the global admin role."""
    others = conn.execute(
        select(func.count())
        .select_from(grants_t.join(users_t, users_t.c.id == grants_t.c.user_id))
        .where(
            grants_t.c.role == "admin",
            grants_t.c.scope == GLOBAL,
            users_t.c.disabled.is_(False),
            users_t.c.id != user_id,
        )
    ).scalar_one()
    holds = conn.execute(
        select(grants_t.c.id).where(
            grants_t.c.user_id == user_id, grants_t.c.role == "admin", grants_t.c.scope == GLOBAL
        )
    ).first()
    if holds is not None and others == 0:
        raise Conflict(f"cannot {what}: it is the last enabled admin (grant admin to another user first)")


_M = TypeVar("_M", bound=Callable[..., Any])


def _forgets_held(method: _M) -> _M:
    """After ``method`` (a token's or a role's revocation, a user's disabling) has committed,
    forget every token and access check this process holds, so the change counts here at once."""

    @functools.wraps(method)
    def wrapper(self: AccountsService, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        finally:
            self.token_cache.clear()
            self.access_cache.clear()

    return wrapper  # type: ignore[return-value]


class AccountsService:
    def __init__(
        self, db: Database, *, default_token_lifetime: timedelta | None = DEFAULT_TOKEN_LIFETIME
    ) -> None:
        self.db = db
        self.default_token_lifetime = default_token_lifetime
        #: Checked tokens and the access checks they passed, held briefly once :meth:`cache_tokens`
        #: is called (the server does; see :mod:`shipyard.accounts.token_cache`).
        self.token_cache: TtlCache[str, Principal] = TtlCache(0)
        self.access_cache: TtlCache[tuple[str, Hashable], Principal] = TtlCache(0)

    # -- users ------------------------------------------------------------------------------------

    def create_user(self, name: str, *, role: str | None = None, actor: str = SYSTEM_ACTOR) -> User:
        """Create a user, optionally holding ``role`` globally (how the first admin is made)."""
        if not isinstance(name, str) or not USER_NAME.fullmatch(name):
            raise InvalidInput(
                f"user name must be 1-{MAX_USER_NAME} characters of A-Z a-z 0-9 . _ @ -, starting with a "
                f"letter or digit; got {name!r}",
                field="name",
            )
        if role is not None:
            check_role(role)
        with self.db.write() as conn:
            if conn.execute(select(users_t.c.id).where(users_t.c.name == name)).first():
                raise AlreadyExists(f"user {name!r} already exists", field="name")
            row = {"id": new_id(), "name": name, "created_at": now_ms(), "disabled": False}
            conn.execute(users_t.insert(), row)
            user = _user(conn.execute(select(users_t).where(users_t.c.id == row["id"])).one())
            append(
                conn,
                actor=actor,
                action="user.create",
                object_type="user",
                object_id=name,
                after={"name": name, "disabled": False},
            )
            if role is not None:
                self._grant(conn, user.id, name, role, scope_of(), actor)
            return user

    def get_user(self, name: str) -> User:
        with self.db.read() as conn:
            return _user(self._user_row(conn, name))

    def list_users(self) -> list[User]:
        with self.db.read() as conn:
            return [_user(r) for r in conn.execute(select(users_t).order_by(users_t.c.name))]

    def disable_user(self, name: str, *, actor: str = SYSTEM_ACTOR) -> User:
        """Disable a user: their tokens stop working at once (grants are kept for the record)."""
        return self._set_disabled(name, True, actor)

    def enable_user(self, name: str, *, actor: str = SYSTEM_ACTOR) -> User:
        return self._set_disabled(name, False, actor)

    @_forgets_held
    def _set_disabled(self, name: str, disabled: bool, actor: str) -> User:
        with self.db.write() as conn:
            row = self._user_row(conn, name)
            if bool(row.disabled) == disabled:
                return _user(row)
            if disabled:
                _keep_an_admin(conn, row.id, f"disable user {name!r}")
            conn.execute(update(users_t).where(users_t.c.id == row.id).values(disabled=disabled))
            append(
                conn,
                actor=actor,
                action="user.disable" if disabled else "user.enable",
                object_type="user",
                object_id=name,
                before={"disabled": bool(row.disabled)},
                after={"disabled": disabled},
            )
            return _user(conn.execute(select(users_t).where(users_t.c.id == row.id)).one())

    @staticmethod
    def _user_row(conn: Connection, name: str) -> Any:
        row = conn.execute(select(users_t).where(users_t.c.name == name)).first()
        if row is None:
            raise NotFound(f"user {name!r} does not exist", field="user")
        return row

    # -- tokens -----------------------------------------------------------------------------------

    def create_token(
        self,
        user: str,
        name: str = "default",
        expires_in: timedelta | None = None,
        *,
        actor: str = SYSTEM_ACTOR,
    ) -> IssuedToken:
        """A new token; without ``expires_in`` it lives :attr:`default_token_lifetime` (None: forever)."""
        if expires_in is None:
            expires_in = self.default_token_lifetime
        if (
            expires_in is not None
            and not 0 < expires_in.total_seconds() <= MAX_TOKEN_LIFETIME.total_seconds()
        ):
            raise InvalidInput(
                f"token lifetime must be positive and at most {MAX_TOKEN_LIFETIME.days} days",
                field="expires_in",
            )
        if not isinstance(name, str) or not name or len(name) > 150:
            raise InvalidInput(f"token name must be 1-150 characters, got {name!r}", field="name")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = now_ms()
        with self.db.write() as conn:
            owner = self._user_row(conn, user)
            row = {
                "id": new_id(),
                "user_id": owner.id,
                "name": name,
                "secret_hash": hash_secret(secret),
                "created_at": now,
                "expires_at": None if expires_in is None else now + int(expires_in.total_seconds() * 1000),
                "revoked_at": None,
                "last_used_at": None,
            }
            conn.execute(tokens_t.insert(), row)
            token = _token(conn.execute(select(tokens_t).where(tokens_t.c.id == row["id"])).one())
            append(
                conn,
                actor=actor,
                action="token.create",
                object_type="token",
                object_id=f"{user}/{token.id}",
                after=_token_audit(token, user),
            )
            return IssuedToken(token, secret)

    def list_tokens(self, user: str) -> list[Token]:
        with self.db.read() as conn:
            owner = self._user_row(conn, user)
            rows = conn.execute(
                select(tokens_t).where(tokens_t.c.user_id == owner.id).order_by(tokens_t.c.created_at)
            )
            return [_token(r) for r in rows]

    @_forgets_held
    def revoke_token(self, token_id: str, *, owner: str | None = None, actor: str = SYSTEM_ACTOR) -> Token:
        """Revoke a token (revoking twice is harmless). With ``owner``, only that user's token:
        another user's token is reported as not existing."""
        with self.db.write() as conn:
            row = conn.execute(
                select(tokens_t, users_t.c.name.label("user_name"))
                .join(users_t, users_t.c.id == tokens_t.c.user_id)
                .where(tokens_t.c.id == token_id)
            ).first()
            if row is None or (owner is not None and row.user_name != owner):
                raise NotFound(f"token {token_id!r} does not exist", field="token_id")
            if row.revoked_at is None:
                conn.execute(update(tokens_t).where(tokens_t.c.id == token_id).values(revoked_at=now_ms()))
            token = _token(conn.execute(select(tokens_t).where(tokens_t.c.id == token_id)).one())
            if row.revoked_at is None:
                append(
                    conn,
                    actor=actor,
                    action="token.revoke",
                    object_type="token",
                    object_id=f"{row.user_name}/{token.id}",
                    before=_token_audit(_token(row), row.user_name),
                    after=_token_audit(token, row.user_name),
                )
            return token

    def cache_tokens(self, seconds: float = DEFAULT_TTL) -> None:
        """Trust a checked token for ``seconds`` without a query (see
        :mod:`shipyard.accounts.token_cache`). The server turns this on; embedded use checks
        every call, so a revocation by another process counts at once."""
        self.token_cache = TtlCache(seconds)
        self.access_cache = TtlCache(seconds)

    def held_access(self, secret: str, question: Hashable) -> Principal | None:
        """The principal a recent access check (:meth:`hold_access`) answered ``question`` with for
        this secret, while this process holds both it and the token; None when it must be asked
        again."""
        digest = hash_secret(secret)
        if self.token_cache.get(digest) is None:
            return None
        return self.access_cache.get((digest, question))

    def hold_access(self, secret: str, question: Hashable, principal: Principal) -> None:
        """Remember that ``secret`` passed the access check ``question`` (an authorization's
        action and the object it named), as briefly as tokens are held."""
        self.access_cache.put((hash_secret(secret), question), principal)

    def authenticate(self, secret: str) -> Principal:
        """The principal a bearer secret stands for; Unauthenticated if unknown, expired or revoked.
        A token found valid is trusted for up to ``token_cache_seconds`` without a query."""
        if not secret or not secret.startswith(TOKEN_PREFIX):
            raise Unauthenticated("invalid token")
        digest = hash_secret(secret)
        principal = self.token_cache.get(digest)
        if principal is None:
            principal, expires_at = self._check_token(secret)
            expires_in = None if expires_at is None else (expires_at - now_ms()) / 1000
            self.token_cache.put(digest, principal, expires_in)
        return principal

    def _check_token(self, secret: str) -> tuple[Principal, int | None]:
        with self.db.read() as conn:
            row = conn.execute(
                select(
                    tokens_t,
                    users_t.c.name.label("user_name"),
                    users_t.c.created_at.label("user_created"),
                    users_t.c.disabled,
                )
                .join(users_t, users_t.c.id == tokens_t.c.user_id)
                .where(tokens_t.c.secret_hash == hash_secret(secret))
            ).first()
        if row is None:
            raise Unauthenticated("invalid token")
        now = now_ms()
        if row.revoked_at is not None:
            raise Unauthenticated("token has been revoked")
        if row.expires_at is not None and row.expires_at <= now:
            raise Unauthenticated("token has expired")
        if row.disabled:
            raise Unauthenticated(f"user {row.user_name!r} is disabled")
        if row.last_used_at is None or now - row.last_used_at >= LAST_USE_RESOLUTION_MS:
            with self.db.write() as conn:
                conn.execute(update(tokens_t).where(tokens_t.c.id == row.id).values(last_used_at=now))
        user = User(UserId(row.user_id), row.user_name, to_datetime(row.user_created), False)
        return Principal(user=user, token_id=TokenId(row.id)), row.expires_at

    # -- roles ------------------------------------------------------------------------------------

    def grant_role(
        self,
        user: str,
        role: str,
        *,
        model: str | None = None,
        experiment: str | None = None,
        actor: str = SYSTEM_ACTOR,
    ) -> Grant:
        """Grant ``role`` globally, or on one ``model`` or ``experiment``. Granting a role the user
        already holds in that scope returns the existing grant and changes nothing."""
        check_role(role)
        scope = scope_of(model=model, experiment=experiment)
        with self.db.write() as conn:
            owner = self._user_row(conn, user)
            return self._grant(conn, owner.id, user, role, scope, actor)

    @staticmethod
    def _grant(conn: Connection, user_id: str, user: str, role: str, scope: str, actor: str) -> Grant:
        existing = grants.find(conn, user_id, role, scope)
        if existing is not None:
            return existing
        row = {
            "id": new_id(),
            "user_id": user_id,
            "role": role,
            "scope": scope,
            "granted_by": actor,
            "granted_at": now_ms(),
        }
        conn.execute(grants_t.insert(), row)
        grant = grants.find(conn, user_id, role, scope)
        assert grant is not None
        append(
            conn,
            actor=actor,
            action="role.grant",
            object_type="role_grant",
            object_id=user,
            after=_grant_audit(grant),
        )
        return grant

    @_forgets_held
    def revoke_role(
        self,
        user: str,
        role: str,
        *,
        model: str | None = None,
        experiment: str | None = None,
        actor: str = SYSTEM_ACTOR,
    ) -> Grant:
        """Remove a grant; NotFound if the user does not hold ``role`` in exactly that scope."""
        check_role(role)
        scope = scope_of(model=model, experiment=experiment)
        with self.db.write() as conn:
            owner = self._user_row(conn, user)
            grant = grants.find(conn, owner.id, role, scope)
            if grant is None:
                raise NotFound(f"user {user!r} does not hold role {role!r} ({scope})", field="role")
            if role == "admin" and scope == GLOBAL and not owner.disabled:
                _keep_an_admin(conn, owner.id, f"revoke the admin role of {user!r}")
            conn.execute(delete(grants_t).where(grants_t.c.id == grant.id))
            append(
                conn,
                actor=actor,
                action="role.revoke",
                object_type="role_grant",
                object_id=user,
                before=_grant_audit(grant),
            )
            return grant

    def list_grants(self, user: str | None = None) -> list[Grant]:
        with self.db.read() as conn:
            stmt = grants.grants_query()
            if user is not None:
                stmt = stmt.where(grants_t.c.user_id == self._user_row(conn, user).id)
            return [grants.to_grant(r) for r in conn.execute(stmt)]

    def allowed(
        self, user: str, action: str, *, model: str | None = None, experiment: str | None = None
    ) -> bool:
        """Whether ``user`` may perform ``action`` on ``model``/``experiment`` (or on nothing in
        particular): a global grant counts everywhere, a scoped one only for its model or
        experiment. Unknown and disabled users may do nothing."""
        check_action(action)
        with self.db.read() as conn:
            roles = grants.roles_of(conn, user, applicable_scopes(model=model, experiment=experiment))
        return any(action in ROLES[role] for role in roles if role in ROLES)
