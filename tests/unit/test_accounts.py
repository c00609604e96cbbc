"""Users and tokens: secrets shown once, stored hashed, and refused once expired or revoked."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from shipyard.accounts.service import AccountsService, hash_secret
from shipyard.accounts.tables import TokenRow
from shipyard.app import App
from shipyard.errors import AlreadyExists, InvalidInput, NotFound, Unauthenticated


def test_token_authenticates_its_user(accounts: AccountsService) -> None:
    accounts.create_user("alice")
    issued = accounts.create_token("alice", name="laptop")
    principal = accounts.authenticate(issued.secret)
    assert principal.user.name == "alice"  # the user's name, not the token's
    assert principal.token_id == issued.token.id
    assert issued.secret.startswith("shp_") and len(issued.secret) > 40


def test_secrets_are_stored_only_hashed(app: App) -> None:
    app.accounts.create_user("alice")
    issued = app.accounts.create_token("alice")
    with app.db.read() as conn:
        stored = conn.execute(select(TokenRow.__table__)).one()
    assert issued.secret not in [str(v) for v in stored]
    assert stored.secret_hash == hash_secret(issued.secret)


def test_expired_revoked_and_unknown_tokens_are_refused(accounts: AccountsService) -> None:
    accounts.create_user("bob")
    short = accounts.create_token("bob", expires_in=timedelta(milliseconds=50))
    time.sleep(0.1)
    with pytest.raises(Unauthenticated, match="expired"):
        accounts.authenticate(short.secret)
    revoked = accounts.create_token("bob")
    assert accounts.revoke_token(revoked.token.id).revoked_at is not None
    with pytest.raises(Unauthenticated, match="revoked"):
        accounts.authenticate(revoked.secret)
    for bad in ("", "shp_nope", "Bearer x"):
        with pytest.raises(Unauthenticated):
            accounts.authenticate(bad)


def test_user_names_are_unique_and_well_formed(accounts: AccountsService) -> None:
    accounts.create_user("carol")
    with pytest.raises(AlreadyExists, match="carol"):
        accounts.create_user("carol")
    with pytest.raises(InvalidInput, match="user name"):
        accounts.create_user("two words")
    with pytest.raises(NotFound, match="dave"):
        accounts.create_token("dave")
    with pytest.raises(InvalidInput, match="lifetime"):
        accounts.create_token("carol", expires_in=timedelta(seconds=-1))
    assert [u.name for u in accounts.list_users()] == ["carol"]
    assert len(accounts.list_tokens("carol")) == 0
