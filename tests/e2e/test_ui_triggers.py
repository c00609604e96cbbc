"""The triggers pages in a real headless browser (Debian's Chromium driven by Playwright), against
a live server: kind, target pipeline, enabled, last firing and next fire time, and one trigger's
firings. Runs start through the in-memory launcher (the launcher port's test implementation).

Skipped on a workstation without ``/usr/bin/chromium``; fails under CI (``CI=true``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.pipelines.triggers.ports import MemoryLauncher
from support.browser import login
from support.live_server import start_live_server

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Site:
    url: str
    app: App
    token: str
    next_slot: datetime


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("ui-triggers")
    app = build_app(load_settings(home=workdir / "home"))
    app.pipeline_launcher = MemoryLauncher(pipelines={"train", "score"})
    try:
        app.accounts.create_user("vera", role="viewer")
        token = app.accounts.create_token("vera").secret
        triggers = app.triggers
        nightly = triggers.create(
            "nightly", "train", "schedule", {"cron": "0 2 * * *", "timezone": "Europe/Paris"}, actor="ana"
        )
        triggers.create(
            "on-drift",
            "train",
            "event",
            {"event_type": "drift.detected", "where": {"model": "churn"}},
            actor="ana",
        )
        triggers.create("by-hand", "score", "manual", params={"batch": 64}, actor="ana")
        triggers.fire("by-hand", {"batch": 128}, actor="bob")
        triggers.set_enabled("on-drift", False, actor="ana")
        assert nightly.next_check_at is not None
        with start_live_server(app) as server:
            yield Site(server.url, app, token, nightly.next_check_at)
    finally:
        app.close()


def test_triggers_page_shows_kind_pipeline_enabled_last_and_next_firing(page: Page, site: Site) -> None:
    login(page, site, "/ui")
    page.locator("nav.main-nav").get_by_role("link", name="Triggers").click()
    expect(page.get_by_role("heading", name="Triggers")).to_be_visible()
    expect(page.locator("table.triggers tbody tr")).to_have_count(3)

    nightly = page.locator("table.triggers tr[data-trigger=nightly]")
    expect(nightly.locator("td.kind")).to_have_text("schedule")
    expect(nightly.locator("td.pipeline")).to_have_text("train")
    expect(nightly.locator("td.what")).to_have_text("0 2 * * * (Europe/Paris, catch-up latest)")
    expect(nightly.locator("td.enabled")).to_have_text("yes")
    expect(nightly.locator("td.last")).to_have_text("never")
    expect(nightly.locator("td.next")).to_contain_text(site.next_slot.astimezone(UTC).strftime("%Y-%m-%d"))

    drift = page.locator("table.triggers tr[data-trigger=on-drift]")
    expect(drift.locator("td.kind")).to_have_text("event")
    expect(drift.locator("td.enabled")).to_have_text("no")
    expect(drift.locator("td.next")).to_have_text("disabled")

    by_hand = page.locator("table.triggers tr[data-trigger=by-hand]")
    expect(by_hand.locator("td.pipeline")).to_have_text("score")
    expect(by_hand.locator("td.last")).to_contain_text("(submitted)")
    expect(by_hand.locator("td.next")).to_have_text("on demand")

    by_hand.get_by_role("link", name="by-hand").click()
    expect(page.get_by_role("heading", name="by-hand")).to_be_visible()


def test_trigger_page_lists_its_firings_with_their_runs(page: Page, site: Site) -> None:
    login(page, site, "/ui/triggers/by-hand")
    expect(page.locator("dd.params")).to_contain_text("batch=64")
    rows = page.locator("table.firings tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td.status")).to_have_text("submitted")
    run_id = site.app.triggers.firings("by-hand")[0].run_id
    assert run_id is not None
    expect(rows.first.locator("td.run")).to_have_text(run_id)
    expect(rows.first.locator("td.cause")).to_contain_text("by=bob")


def test_unknown_trigger_is_a_404_page(page: Page, site: Site) -> None:
    login(page, site, "/ui/triggers")
    response = page.goto(site.url + "/ui/triggers/nope")
    assert response is not None and response.status == 404
    expect(page.locator("body")).to_contain_text("no trigger named 'nope'")
