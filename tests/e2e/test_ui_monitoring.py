"""The monitors' pages in a real headless browser (Debian's Chromium driven by Playwright), against
a live server: the list, a monitor whose drift alert fired, with distributions against the
reference, drift over time and performance measured and estimated, drawn by the plotly.js this
server serves; and the deployment it watches linked from it.

Skipped on a workstation without ``/usr/bin/chromium``; fails under CI (``CI=true``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.monitoring.model import MonitorSpec, Window
from support.browser import login
from support.live_server import start_live_server
from support.monitoring import HOUR, T0, deploy_churn, drifted, labels_for, traffic
from support.registry_models import churn_data

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Site:
    url: str
    app: App
    token: str
    nobody: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("ui-monitoring")
    app = build_app(load_settings(home=workdir / "home"))
    try:
        deployed = deploy_churn(app, workdir)
        app.accounts.create_user("nora")
        nobody = app.accounts.create_token("nora").secret
        token = app.accounts.create_token("vera").secret
        _, evaluation = churn_data()
        calm = evaluation.head(400)
        ids = traffic(deployed, calm, start=T0)
        traffic(deployed, drifted(calm), start=T0 + HOUR)
        app.monitoring.clock = lambda: T0 + 2 * HOUR  # labels arrive right after the traffic
        app.monitoring.log_labels(deployed.deployment, labels_for(ids, calm))
        app.monitoring.create(
            MonitorSpec(name="churn-drift", deployment=deployed.deployment, reference=str(deployed.reference),
                        target="churned", window=Window("time", 3600)),
            actor="dana",
        )  # fmt: skip
        app.alerts.create_rule("churn-drift", "dataset", "drift.share", ">=", 0.5, actor="dana")
        app.monitoring.evaluate("churn-drift", at=T0 + HOUR)
        app.monitoring.evaluate("churn-drift", at=T0 + 2 * HOUR)
        with start_live_server(app) as server:
            yield Site(server.url, app, token, nobody)
    finally:
        app.close()


def test_the_list_shows_each_monitor_with_its_drift_and_firing_alerts(page: Page, site: Site) -> None:
    login(page, site, "/ui")
    page.locator("nav.main-nav").get_by_role("link", name="Monitors").click()
    expect(page.get_by_role("heading", name="Monitors")).to_be_visible()
    row = page.locator("tr[data-monitor=churn-drift]")
    expect(row.locator("td.firing")).to_have_text("1 firing")
    share = float(row.locator("td.drift-share").inner_text())
    assert share >= 0.5
    row.get_by_role("link", name="churn-drift").click()
    expect(page.get_by_role("heading", name="Monitor churn-drift")).to_be_visible()


def test_a_monitor_page_draws_distributions_drift_and_performance(page: Page, site: Site) -> None:
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(site.url) else None)
    login(page, site, "/ui/monitors/churn-drift")
    firing = page.locator("table.alerts tr.firing")
    expect(firing).to_have_count(1)
    expect(firing).to_contain_text("drift.share >= 0.5")
    expect(page.locator(".distribution-chart .main-svg").first).to_be_visible()  # plotly drew them
    expect(page.locator(".distribution-chart").first).to_contain_text("reference")
    expect(page.locator(".distribution-chart").first).to_contain_text("current")
    expect(page.locator("#drift-chart .main-svg").first).to_be_visible()
    expect(page.locator("#drift-chart")).to_contain_text("drift.share")
    expect(page.locator("#performance-chart")).to_contain_text("estimated.roc_auc (estimated)")
    expect(page.locator("#performance-chart")).to_contain_text("performance.roc_auc")
    expect(page.locator("table.evaluations tbody tr")).to_have_count(2)
    page.get_by_role("link", name="churn-live").first.click()
    expect(page.get_by_role("heading", name="churn-live")).to_be_visible()
    assert outside == []  # plotly.js comes from this server, not a CDN


def test_without_a_role_the_pages_are_forbidden(page: Page, site: Site) -> None:
    page.goto(site.url + "/ui/login?next=/ui/monitors")
    page.get_by_label("Token").fill(site.nobody)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("main")).to_contain_text("monitoring.read")
