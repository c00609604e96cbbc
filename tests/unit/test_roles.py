"""Roles and grants: what each role may do, how scopes limit a grant, and that every change to
users, tokens and grants is in the audit trail."""

from __future__ import annotations

import pytest

from shipyard.accounts.permissions import ACTIONS, ROLES, parse_scope, roles_allowing
from shipyard.accounts.service import AccountsService
from shipyard.app import App
from shipyard.errors import InvalidInput, NotFound, Unauthenticated
from support.roles import ROLE_ACTIONS

EXPECTED = ROLE_ACTIONS  # written out by hand: the contract with users


def test_roles_allow_exactly_the_documented_actions() -> None:
    assert {role: set(actions) for role, actions in ROLES.items()} == EXPECTED
    assert set(ACTIONS) == EXPECTED["admin"]
    assert roles_allowing("models.deploy") == ["deployer", "admin"]
    assert roles_allowing("audit.read") == ["reviewer", "admin"]


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_a_global_grant_allows_the_roles_actions_everywhere(accounts: AccountsService, role: str) -> None:
    accounts.create_user("u", role=role)
    for action in sorted(EXPECTED["admin"]):
        expected = action in EXPECTED[role]
        assert accounts.allowed("u", action) is expected, action
        assert accounts.allowed("u", action, model="churn") is expected, action
        assert accounts.allowed("u", action, experiment="exp") is expected, action


def test_a_user_without_grants_may_do_nothing(accounts: AccountsService) -> None:
    accounts.create_user("nobody")
    secret = accounts.create_token("nobody").secret
    assert accounts.authenticate(secret).user.name == "nobody"  # authenticating still works
    assert not any(accounts.allowed("nobody", a) for a in ACTIONS)
    assert not accounts.allowed("ghost", "tracking.read")  # unknown users too


def test_a_scoped_grant_counts_only_for_its_model(accounts: AccountsService) -> None:
    accounts.create_user("dana")
    grant = accounts.grant_role("dana", "deployer", model="churn", actor="root")
    assert (grant.user, grant.role, grant.scope, grant.granted_by) == (
        "dana",
        "deployer",
        "model:churn",
        "root",
    )
    assert accounts.allowed("dana", "models.deploy", model="churn")
    assert accounts.allowed("dana", "models.read", model="churn")
    assert not accounts.allowed("dana", "models.deploy", model="fraud")
    assert not accounts.allowed("dana", "models.deploy")  # unscoped requests need a global grant
    assert not accounts.allowed("dana", "models.deploy", experiment="churn")  # not the experiment
    assert not accounts.allowed("dana", "models.write", model="churn")


def test_a_scoped_grant_counts_only_for_its_experiment(accounts: AccountsService) -> None:
    accounts.create_user("erin")
    accounts.grant_role("erin", "contributor", experiment="churn")
    assert accounts.allowed("erin", "tracking.write", experiment="churn")
    assert not accounts.allowed("erin", "tracking.write", experiment="fraud")
    assert not accounts.allowed("erin", "tracking.read")
    assert not accounts.allowed("erin", "tracking.write", model="churn")


def test_grants_add_up(accounts: AccountsService) -> None:
    accounts.create_user("fay", role="viewer")
    accounts.grant_role("fay", "deployer", model="churn")
    assert accounts.allowed("fay", "models.read", model="fraud")  # viewer, globally
    assert accounts.allowed("fay", "models.deploy", model="churn")
    assert not accounts.allowed("fay", "models.deploy", model="fraud")


def test_grant_is_idempotent_and_revoke_is_exact(accounts: AccountsService) -> None:
    accounts.create_user("gus")
    first = accounts.grant_role("gus", "reviewer")
    assert accounts.grant_role("gus", "reviewer") == first
    accounts.grant_role("gus", "deployer", model="churn")
    assert [(g.role, g.scope) for g in accounts.list_grants("gus")] == [
        ("reviewer", "global"),
        ("deployer", "model:churn"),
    ]
    with pytest.raises(NotFound) as err:
        accounts.revoke_role("gus", "deployer")  # held on churn only, not globally
    assert err.value.field == "role"
    accounts.revoke_role("gus", "deployer", model="churn")
    assert not accounts.allowed("gus", "models.deploy", model="churn")
    assert [g.role for g in accounts.list_grants()] == ["reviewer"]


def test_bad_roles_users_and_scopes_are_named(accounts: AccountsService) -> None:
    accounts.create_user("hal")
    with pytest.raises(InvalidInput) as err:
        accounts.grant_role("hal", "superuser")
    assert err.value.field == "role" and "superuser" in err.value.message and "viewer" in err.value.message
    with pytest.raises(NotFound, match="ivy"):
        accounts.grant_role("ivy", "viewer")
    with pytest.raises(NotFound, match="ivy"):
        accounts.list_grants("ivy")
    with pytest.raises(InvalidInput, match="not both"):
        accounts.grant_role("hal", "viewer", model="a", experiment="b")
    with pytest.raises(InvalidInput) as err:
        accounts.grant_role("hal", "viewer", model="")
    assert err.value.field == "model"
    with pytest.raises(InvalidInput, match="unknown role"):
        accounts.create_user("jo", role="root")
    assert [u.name for u in accounts.list_users()] == ["hal"]  # the refused user was not created
    with pytest.raises(InvalidInput, match="unknown action"):
        accounts.allowed("hal", "models.delete")


def test_parse_scope() -> None:
    assert parse_scope("global") == "global"
    assert parse_scope("model:churn") == "model:churn"
    assert parse_scope("experiment:a:b") == "experiment:a:b"
    for bad in ("model:", "team:x", "churn", ""):
        with pytest.raises(InvalidInput):
            parse_scope(bad)


def test_disabled_users_lose_everything(accounts: AccountsService) -> None:
    accounts.create_user("root", role="admin")  # the last enabled admin cannot be disabled
    accounts.create_user("kim", role="admin")
    secret = accounts.create_token("kim").secret
    accounts.disable_user("kim", actor="root")
    assert accounts.get_user("kim").disabled
    assert not accounts.allowed("kim", "tracking.read")
    with pytest.raises(Unauthenticated, match="disabled"):
        accounts.authenticate(secret)
    accounts.enable_user("kim", actor="root")
    assert accounts.allowed("kim", "tracking.read")


def test_every_account_change_is_audited(app: App) -> None:
    accounts = app.accounts
    accounts.create_user("lee", role="viewer", actor="root")
    issued = accounts.create_token("lee", name="ci", actor="root")
    accounts.revoke_token(issued.token.id, actor="lee")
    accounts.revoke_token(issued.token.id, actor="lee")  # a second revoke changes nothing
    accounts.grant_role("lee", "deployer", model="churn", actor="root")
    accounts.grant_role("lee", "deployer", model="churn", actor="root")  # nor does a second grant
    accounts.revoke_role("lee", "deployer", model="churn", actor="root")
    accounts.disable_user("lee", actor="root")
    records = app.audit.list()
    assert [(r.actor, r.action, r.object_type, r.object_id) for r in records] == [
        ("root", "user.create", "user", "lee"),
        ("root", "role.grant", "role_grant", "lee"),
        ("root", "token.create", "token", f"lee/{issued.token.id}"),
        ("lee", "token.revoke", "token", f"lee/{issued.token.id}"),
        ("root", "role.grant", "role_grant", "lee"),
        ("root", "role.revoke", "role_grant", "lee"),
        ("root", "user.disable", "user", "lee"),
    ]
    assert records[1].after == {"user": "lee", "role": "viewer", "scope": "global"}
    assert records[5].before == {"user": "lee", "role": "deployer", "scope": "model:churn"}
    assert records[3].before is not None and records[3].before["revoked_at"] is None
    assert records[3].after is not None and records[3].after["revoked_at"] is not None
    assert records[6].before == {"disabled": False} and records[6].after == {"disabled": True}
    assert all(issued.secret not in str(r) for r in records)
    assert app.audit.verify().valid


def test_a_failed_change_writes_no_record(app: App) -> None:
    app.accounts.create_user("max")
    with pytest.raises(NotFound):
        app.accounts.revoke_role("max", "viewer")
    with pytest.raises(NotFound):
        app.accounts.revoke_token("0" * 32)
    assert [r.action for r in app.audit.list()] == ["user.create"]


def test_owner_can_only_revoke_their_own_tokens(accounts: AccountsService) -> None:
    accounts.create_user("ned")
    accounts.create_user("oli")
    theirs = accounts.create_token("oli")
    with pytest.raises(NotFound):
        accounts.revoke_token(theirs.token.id, owner="ned", actor="ned")
    assert accounts.authenticate(theirs.secret).user.name == "oli"
    assert accounts.revoke_token(theirs.token.id, owner="oli", actor="oli").revoked_at is not None
