"""Who is calling: users, their API tokens, and the roles they are granted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NewType

UserId = NewType("UserId", str)
TokenId = NewType("TokenId", str)


@dataclass(frozen=True)
class User:
    id: UserId
    name: str
    created_at: datetime
    disabled: bool = False


@dataclass(frozen=True)
class Token:
    """A token's record. The secret itself is shown once, at creation, and stored only hashed."""

    id: TokenId
    user_id: UserId
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class IssuedToken:
    token: Token
    secret: str  # "shp_…": give it to the user; it cannot be recovered later


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    user: User
    token_id: TokenId | None = None


@dataclass(frozen=True)
class Grant:
    """A role a user holds, globally or on one model or experiment (see :mod:`.permissions`)."""

    id: str
    user: str
    role: str
    scope: str  # "global", "model:<name>" or "experiment:<name>"
    granted_by: str
    granted_at: datetime
