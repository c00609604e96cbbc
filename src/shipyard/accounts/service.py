"""Users and API tokens. Token secrets are random, shown once, and stored only as a sha256."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from shipyard.accounts.model import IssuedToken, Principal, Token, TokenId, User, UserId
from shipyard.accounts.tables import TokenRow, UserRow
from shipyard.core.clock import now_ms, to_datetime
from shipyard.core.ids import new_id
from shipyard.errors import AlreadyExists, InvalidInput, NotFound, Unauthenticated
from shipyard.storage.metadata.base import table
from shipyard.storage.metadata.database import Database

users_t = table(UserRow)
tokens_t = table(TokenRow)

TOKEN_PREFIX = "shp_"


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


class AccountsService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create_user(self, name: str) -> User:
        if not isinstance(name, str) or not name.strip() or len(name) > 150 or any(c.isspace() for c in name):
            raise InvalidInput(
                f"user name must be 1-150 characters without spaces, got {name!r}", field="name"
            )
        with self.db.write() as conn:
            if conn.execute(select(users_t.c.id).where(users_t.c.name == name)).first():
                raise AlreadyExists(f"user {name!r} already exists", field="name")
            row = {"id": new_id(), "name": name, "created_at": now_ms(), "disabled": False}
            conn.execute(users_t.insert(), row)
            return _user(conn.execute(select(users_t).where(users_t.c.id == row["id"])).one())

    def get_user(self, name: str) -> User:
        with self.db.read() as conn:
            return _user(self._user_row(conn, name))

    def list_users(self) -> list[User]:
        with self.db.read() as conn:
            return [_user(r) for r in conn.execute(select(users_t).order_by(users_t.c.name))]

    @staticmethod
    def _user_row(conn: Connection, name: str) -> Any:
        row = conn.execute(select(users_t).where(users_t.c.name == name)).first()
        if row is None:
            raise NotFound(f"user {name!r} does not exist", field="user")
        return row

    def create_token(
        self, user: str, name: str = "default", expires_in: timedelta | None = None
    ) -> IssuedToken:
        if expires_in is not None and expires_in.total_seconds() <= 0:
            raise InvalidInput("token lifetime must be positive", field="expires_in")
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
            return IssuedToken(
                _token(conn.execute(select(tokens_t).where(tokens_t.c.id == row["id"])).one()), secret
            )

    def list_tokens(self, user: str) -> list[Token]:
        with self.db.read() as conn:
            owner = self._user_row(conn, user)
            rows = conn.execute(
                select(tokens_t).where(tokens_t.c.user_id == owner.id).order_by(tokens_t.c.created_at)
            )
            return [_token(r) for r in rows]

    def revoke_token(self, token_id: str) -> Token:
        with self.db.write() as conn:
            row = conn.execute(select(tokens_t).where(tokens_t.c.id == token_id)).first()
            if row is None:
                raise NotFound(f"token {token_id!r} does not exist", field="token_id")
            if row.revoked_at is None:
                conn.execute(update(tokens_t).where(tokens_t.c.id == token_id).values(revoked_at=now_ms()))
            return _token(conn.execute(select(tokens_t).where(tokens_t.c.id == token_id)).one())

    def authenticate(self, secret: str) -> Principal:
        """The principal a bearer secret stands for; Unauthenticated if unknown, expired or revoked."""
        if not secret or not secret.startswith(TOKEN_PREFIX):
            raise Unauthenticated("invalid token")
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
        user = User(UserId(row.user_id), row.user_name, to_datetime(row.user_created), False)
        return Principal(user=user, token_id=TokenId(row.id))
