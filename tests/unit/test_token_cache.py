"""Checked tokens are held briefly: no token query per request, revocation honoured at once in the
process that revoked, and within ``token_cache_seconds`` in every other server process."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import event

from shipyard.accounts.service import AccountsService
from shipyard.app import App
from shipyard.errors import Unauthenticated


def _count_queries(app: App) -> list[str]:
    seen: list[str] = []
    event.listen(app.db.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_a_checked_token_costs_no_query_until_its_time_is_up(app: App) -> None:
    app.accounts.cache_tokens(5)  # what the server does
    app.accounts.create_user("ann")
    issued = app.accounts.create_token("ann")
    assert app.accounts.authenticate(issued.secret).user.name == "ann"
    seen = _count_queries(app)
    for _ in range(50):
        assert app.accounts.authenticate(issued.secret).user.name == "ann"
    assert [q for q in seen if "tokens" in q] == []


def test_revocation_is_immediate_in_this_process_and_bounded_in_others(app: App) -> None:
    app.accounts.cache_tokens(5)
    other = AccountsService(app.db)  # another server process's view
    other.cache_tokens(0.5)
    app.accounts.create_user("bea")
    issued = app.accounts.create_token("bea")
    assert other.authenticate(issued.secret).user.name == "bea"
    app.accounts.authenticate(issued.secret)
    revoked_at = time.monotonic()
    app.accounts.revoke_token(issued.token.id)
    with pytest.raises(Unauthenticated, match="revoked"):
        app.accounts.authenticate(issued.secret)
    while True:  # the other process still trusts it, but not past its bound
        try:
            other.authenticate(issued.secret)
        except Unauthenticated:
            break
        assert time.monotonic() - revoked_at <= 0.5 + 0.2


def test_disabling_a_user_forgets_their_tokens(app: App) -> None:
    app.accounts.cache_tokens(5)
    app.accounts.create_user("cid")
    issued = app.accounts.create_token("cid")
    app.accounts.authenticate(issued.secret)
    app.accounts.disable_user("cid")
    with pytest.raises(Unauthenticated, match="disabled"):
        app.accounts.authenticate(issued.secret)


def test_a_token_is_not_held_past_its_expiry(app: App) -> None:
    app.accounts.cache_tokens(5)
    app.accounts.create_user("dan")
    issued = app.accounts.create_token("dan", expires_in=timedelta(milliseconds=300))
    app.accounts.authenticate(issued.secret)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            app.accounts.authenticate(issued.secret)
        except Unauthenticated as exc:
            assert "expired" in str(exc)
            return
    pytest.fail("an expired token was still accepted from the cache")


def test_embedded_use_checks_every_call(app: App) -> None:
    accounts = app.accounts  # not a server: no cache
    accounts.create_user("eve")
    issued = accounts.create_token("eve")
    accounts.authenticate(issued.secret)
    seen = _count_queries(app)
    accounts.authenticate(issued.secret)
    assert any("tokens" in q for q in seen)
