"""Account and governance routes: your own account and tokens, users, tokens of other users, role
grants, and the audit trail (list, verify, export).

``/me…`` needs ``account.self`` (every role has it); users, other users' tokens and grants need
``admin``; the audit trail needs ``audit.read``. Every change is recorded in the audit trail with the
caller as the actor.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Response

from shipyard.accounts.model import Principal
from shipyard.server import admin_schemas as s
from shipyard.server.deps import Shipyard, authorize
from shipyard.server.fields import OffsetQuery

router = APIRouter(prefix="/api/v1", tags=["admin"])

Self = Annotated[Principal, Depends(authorize("account.self"))]
Admin = Annotated[Principal, Depends(authorize("admin"))]
AUDIT = [Depends(authorize("audit.read"))]


def _lifetime(body: s.TokenIn) -> timedelta | None:
    return None if body.expires_in_seconds is None else timedelta(seconds=body.expires_in_seconds)


def _issued(app: Shipyard, user: str, body: s.TokenIn, actor: str) -> s.IssuedTokenOut:
    issued = app.accounts.create_token(user, name=body.name, expires_in=_lifetime(body), actor=actor)
    return s.IssuedTokenOut(**s.TokenOut.of(issued.token, user).model_dump(), secret=issued.secret)


# -- your own account ------------------------------------------------------------------------------


@router.get("/me")
def me(principal: Self, app: Shipyard) -> s.MeOut:
    grants = app.accounts.list_grants(principal.user.name)
    return s.MeOut(user=s.UserOut.of(principal.user), grants=[s.GrantOut.of(g) for g in grants])


@router.get("/me/tokens")
def my_tokens(principal: Self, app: Shipyard) -> s.TokensOut:
    name = principal.user.name
    return s.TokensOut(tokens=[s.TokenOut.of(t, name) for t in app.accounts.list_tokens(name)])


@router.post("/me/tokens", status_code=201)
def create_my_token(body: s.TokenIn, principal: Self, app: Shipyard) -> s.IssuedTokenOut:
    return _issued(app, principal.user.name, body, principal.user.name)


@router.delete("/me/tokens/{token_id}")
def revoke_my_token(token_id: str, principal: Self, app: Shipyard) -> s.TokenOut:
    name = principal.user.name
    return s.TokenOut.of(app.accounts.revoke_token(token_id, owner=name, actor=name), name)


# -- users and their tokens (admin) ----------------------------------------------------------------


@router.get("/users")
def list_users(_: Admin, app: Shipyard) -> s.UsersOut:
    return s.UsersOut(users=[s.UserOut.of(u) for u in app.accounts.list_users()])


@router.post("/users", status_code=201)
def create_user(body: s.UserIn, principal: Admin, app: Shipyard) -> s.UserOut:
    return s.UserOut.of(app.accounts.create_user(body.name, role=body.role, actor=principal.user.name))


@router.post("/users/{name}/disable")
def disable_user(name: str, principal: Admin, app: Shipyard) -> s.UserOut:
    return s.UserOut.of(app.accounts.disable_user(name, actor=principal.user.name))


@router.post("/users/{name}/enable")
def enable_user(name: str, principal: Admin, app: Shipyard) -> s.UserOut:
    return s.UserOut.of(app.accounts.enable_user(name, actor=principal.user.name))


@router.get("/users/{name}/tokens")
def list_user_tokens(name: str, _: Admin, app: Shipyard) -> s.TokensOut:
    return s.TokensOut(tokens=[s.TokenOut.of(t, name) for t in app.accounts.list_tokens(name)])


@router.post("/users/{name}/tokens", status_code=201)
def create_user_token(name: str, body: s.TokenIn, principal: Admin, app: Shipyard) -> s.IssuedTokenOut:
    return _issued(app, name, body, principal.user.name)


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: str, principal: Admin, app: Shipyard) -> Response:
    app.accounts.revoke_token(token_id, actor=principal.user.name)
    return Response(status_code=204)


# -- role grants (admin) ---------------------------------------------------------------------------


@router.get("/roles")
def list_grants(_: Admin, app: Shipyard, user: str | None = None) -> s.GrantsOut:
    return s.GrantsOut(grants=[s.GrantOut.of(g) for g in app.accounts.list_grants(user)])


@router.post("/roles", status_code=201)
def grant_role(body: s.GrantIn, principal: Admin, app: Shipyard) -> s.GrantOut:
    grant = app.accounts.grant_role(
        body.user, body.role, model=body.model, experiment=body.experiment, actor=principal.user.name
    )
    return s.GrantOut.of(grant)


@router.post("/roles/revoke")
def revoke_role(body: s.GrantIn, principal: Admin, app: Shipyard) -> s.GrantOut:
    grant = app.accounts.revoke_role(
        body.user, body.role, model=body.model, experiment=body.experiment, actor=principal.user.name
    )
    return s.GrantOut.of(grant)


# -- audit trail (audit.read) ----------------------------------------------------------------------


@router.get("/audit", dependencies=AUDIT)
def list_audit(
    app: Shipyard,
    actor: str | None = None,
    action: Annotated[str | None, Query(description="An action; 'model.*' matches a prefix.")] = None,
    object_type: str | None = None,
    object_id: str | None = None,
    model: Annotated[str | None, Query(description="A model and its versions, aliases, approvals.")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: OffsetQuery = 0,
) -> s.AuditRecordsOut:
    records = app.audit.list(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        model=model,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return s.AuditRecordsOut(records=[s.AuditRecordOut.of(r) for r in records])


@router.get("/audit/verify", dependencies=AUDIT)
def verify_audit(app: Shipyard) -> s.ChainReportOut:
    """The chain's state; ``valid: false`` names the first broken record (the request succeeded)."""
    return s.ChainReportOut.of(app.audit.verify())


@router.get(
    "/audit/export",
    dependencies=AUDIT,
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
def export_audit(
    app: Shipyard, model: str | None = None, format: Literal["csv", "json"] = "json"
) -> Response:
    text = app.audit.export(model=model, format=format)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    name = quote(f"audit-{model or 'all'}.{format}", safe="")
    return Response(
        text, media_type=media, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"}
    )
