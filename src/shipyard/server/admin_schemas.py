"""Request and response bodies of the admin routes: users, tokens, role grants, the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StrictInt

from shipyard.accounts.model import Grant, Token, User
from shipyard.audit.model import AuditRecord, ChainReport
from shipyard.server.fields import Input

MAX_LIFETIME_SECONDS = 3650 * 86_400


class UserIn(Input):
    name: str
    role: str | None = Field(None, description="A role to grant globally at creation (e.g. the first admin).")


class UserOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    disabled: bool

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(id=u.id, name=u.name, created_at=u.created_at, disabled=u.disabled)


class UsersOut(BaseModel):
    users: list[UserOut]


class TokenIn(Input):
    name: str = "default"
    expires_in_seconds: Annotated[StrictInt, Field(gt=0, le=MAX_LIFETIME_SECONDS)] | None = Field(
        None, description="Lifetime in seconds (at most ten years); omit for the server's default (90 days)."
    )


class TokenOut(BaseModel):
    id: str
    user: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, t: Token, user: str) -> TokenOut:
        return cls(
            id=t.id,
            user=user,
            name=t.name,
            created_at=t.created_at,
            expires_at=t.expires_at,
            revoked_at=t.revoked_at,
            last_used_at=t.last_used_at,
        )


class TokensOut(BaseModel):
    tokens: list[TokenOut]


class IssuedTokenOut(TokenOut):
    secret: str = Field(description="The token itself: shown once, never stored in clear.")


class GrantIn(Input):
    user: str
    role: str
    model: str | None = Field(None, description="Scope the grant to this model.")
    experiment: str | None = Field(None, description="Scope the grant to this experiment.")


class GrantOut(BaseModel):
    user: str
    role: str
    scope: str
    granted_by: str
    granted_at: datetime

    @classmethod
    def of(cls, g: Grant) -> GrantOut:
        return cls(user=g.user, role=g.role, scope=g.scope, granted_by=g.granted_by, granted_at=g.granted_at)


class GrantsOut(BaseModel):
    grants: list[GrantOut]


class MeOut(BaseModel):
    user: UserOut
    grants: list[GrantOut]


class AuditRecordOut(BaseModel):
    seq: int
    id: str
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    before: dict[str, object] | None
    after: dict[str, object] | None
    request_id: str | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, r: AuditRecord) -> AuditRecordOut:
        return cls(
            seq=r.seq,
            id=r.id,
            at=r.at,
            actor=r.actor,
            action=r.action,
            object_type=r.object_type,
            object_id=r.object_id,
            before=dict(r.before) if r.before is not None else None,
            after=dict(r.after) if r.after is not None else None,
            request_id=r.request_id,
            prev_hash=r.prev_hash,
            hash=r.hash,
        )


class AuditRecordsOut(BaseModel):
    records: list[AuditRecordOut]


class ChainReportOut(BaseModel):
    valid: bool
    records: int
    head_seq: int
    head_hash: str | None
    broken_seq: int | None
    reason: str | None

    @classmethod
    def of(cls, r: ChainReport) -> ChainReportOut:
        return cls(
            valid=r.valid,
            records=r.records,
            head_seq=r.head_seq,
            head_hash=r.head_hash,
            broken_seq=r.broken_seq,
            reason=r.reason,
        )
