"""The deployments' pages in a real headless browser (Debian's Chromium driven by Playwright),
against a live server: the list, a canary that advanced and one rolled back by the decider from
the figures replicas reported, with charts drawn by the plotly.js this server serves.

Skipped on a workstation without ``/usr/bin/chromium``; fails under CI (``CI=true``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.serving.model import CanaryPolicy
from support.browser import login
from support.deployments import window
from support.live_server import start_live_server
from support.registry_models import register, train

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Site:
    url: str
    app: App
    token: str
    nobody: str


def _deployments(app: App) -> None:
    """``churn-bg``: blue-green switched from v1 to v2. ``churn-canary``: v2 advanced from 10% to
    50% on good figures. ``churn-bad``: v3 rolled back for its errors."""
    service = app.deployments
    service.deploy("churn-bg", "churn@champion", strategy="blue_green", actor="dana")
    service.deploy("churn-bg", "churn@2", strategy="blue_green", actor="dana")
    policy = CanaryPolicy(steps=(10, 50), step_seconds=0, min_requests=100)
    for name, challenger, errors in (("churn-canary", "churn@2", 0), ("churn-bad", "churn@3", 60)):
        start = service.deploy(
            name, "churn@1", strategy="canary", challenger=challenger, canary=policy, actor="dana"
        ).updated_at
        version = int(challenger.rpartition("@")[2])
        service.record(
            [
                window(name, 1, "primary", start, requests=300, latency_ms=4.0),
                window(name, version, "challenger", start, requests=300, errors=errors, latency_ms=4.0),
            ]
        )
    decided = {d.deployment: d.action for d in service.decide(holder="ui-test")}
    assert decided == {"churn-canary": "advance", "churn-bad": "rollback"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("ui-deployments")
    app = build_app(load_settings(home=workdir / "home"))
    try:
        app.accounts.create_user("vera", role="viewer")
        app.accounts.create_user("nora")
        token = app.accounts.create_token("vera").secret
        nobody = app.accounts.create_token("nora").secret
        model = train()
        for _ in range(3):
            register(app, workdir, "churn", model=model)
        app.registry.set_alias("churn", "champion", 1, actor="alice")
        _deployments(app)
        with start_live_server(app) as server:
            yield Site(server.url, app, token, nobody)
    finally:
        app.close()


def test_the_list_shows_every_deployment_and_its_split(page: Page, site: Site) -> None:
    login(page, site, "/ui")
    page.locator("nav.main-nav").get_by_role("link", name="Deployments").click()
    expect(page.get_by_role("heading", name="Deployments")).to_be_visible()
    expect(page.locator("table.deployments tbody tr")).to_have_count(3)
    bg = page.locator("tr[data-deployment=churn-bg]")
    expect(bg.locator("td.strategy")).to_have_text("blue-green")
    expect(bg.locator("td.traffic")).to_contain_text("churn@2 · primary 100%")
    expect(bg.locator("td.traffic")).to_contain_text("churn@1 (@champion) · standby 0%")
    canary = page.locator("tr[data-deployment=churn-canary]")
    expect(canary.locator("td.traffic")).to_contain_text("churn@2 · challenger 50%")
    canary.get_by_role("link", name="churn-canary").click()
    expect(page.get_by_role("heading", name="churn-canary")).to_be_visible()


def test_a_canary_page_shows_split_live_figures_progress_and_decisions(page: Page, site: Site) -> None:
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(site.url) else None)
    login(page, site, "/ui/deployments/churn-canary")
    targets = page.locator("table.targets")
    expect(targets.locator("tr[data-role=primary] td.weight")).to_have_text("50%")
    expect(targets.locator("tr[data-role=challenger] td.weight")).to_have_text("50%")
    expect(page.locator("#traffic-chart .main-svg").first).to_be_visible()  # plotly drew it
    expect(page.locator("#traffic-chart")).to_contain_text("churn@2 (challenger)")
    expect(page.locator("#canary-steps .step.current")).to_have_text("50%")
    expect(page.locator("#canary-steps .step.done")).to_have_text("10%")
    figures = page.locator("table.figures")
    expect(figures.locator("tr[data-version='churn@2'] td.requests")).to_have_text("300")
    expect(figures.locator("tr[data-version='churn@2'] td.rps")).to_have_text("30.0")  # 300 in 10 s
    expect(figures.locator("tr[data-version='churn@2'] td.p99")).to_have_text(
        "4.975"
    )  # interpolated in the (2.5, 5] bucket
    for chart in ("rps-chart", "p99-chart", "errors-chart"):
        expect(page.locator(f"#{chart} .main-svg").first).to_be_visible()
    advance = page.locator("table.decisions tr[data-action=advance]")
    expect(advance).to_contain_text("raising to 50%")
    expect(advance.locator("td.checks")).to_contain_text("error_rate 0")
    expect(advance.locator("td.figures")).to_contain_text("challenger: 300 req, 0 err")
    assert outside == []  # plotly.js comes from this server, not a CDN


def test_a_rolled_back_canary_shows_the_failed_check_and_its_figures(page: Page, site: Site) -> None:
    login(page, site, "/ui/deployments/churn-bad")
    expect(page.locator("h1 .kind")).to_have_text("single")
    rollback = page.locator("table.decisions tr[data-action=rollback]")
    expect(rollback.locator("td.reason")).to_have_text("check failed: error_rate")
    expect(rollback.locator("td.checks .check.fail")).to_contain_text("error_rate 0.2")
    expect(rollback.locator("td.figures")).to_contain_text("challenger: 300 req, 60 err")
    expect(rollback).to_contain_text("canary-decider")
    expect(page.locator("table.figures tr[data-version='churn@3'] td.errors")).to_have_text("60")


def test_without_a_role_the_pages_are_forbidden(page: Page, site: Site) -> None:
    page.goto(site.url + "/ui/login?next=/ui/deployments")
    page.get_by_label("Token").fill(site.nobody)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("main")).to_contain_text("deployments.read")
