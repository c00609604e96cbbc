"""Account rows: users, hashed API tokens and role grants."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.storage.metadata.base import Base


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(150), unique=True)
    created_at: Mapped[int]
    disabled: Mapped[bool] = mapped_column(default=False)


class TokenRow(Base):
    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(150))
    #: sha256 of the secret; secrets are 256-bit random, so a fast hash is enough.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int]
    expires_at: Mapped[int | None]
    revoked_at: Mapped[int | None]
    last_used_at: Mapped[int | None]


class RoleGrantRow(Base):
    """A role held by a user, globally (scope ``global``) or on one ``model:<name>`` or
    ``experiment:<name>``."""

    __tablename__ = "role_grants"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(String(300))
    granted_by: Mapped[str] = mapped_column(String(250))
    granted_at: Mapped[int]

    __table_args__ = (UniqueConstraint("user_id", "role", "scope", name="uq_role_grants_identity"),)
