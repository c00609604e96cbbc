"""The model registry's pages in a real headless browser (Debian's Chromium driven by Playwright),
against a live server over models registered, moved, gated and approved through the services.

Skipped on a workstation without ``/usr/bin/chromium``; fails under CI (``CI=true``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.registry.entities import GatePolicy, ModelVersion
from support.browser import login
from support.features import driver_definitions, write_driver_stats
from support.live_server import start_live_server
from support.registry_models import LABEL, churn_data, register, train

pytestmark = pytest.mark.slow

VIEWER = "vera"
FEATURE_SERVICE_TAG = "shipyard.feature_service"


@dataclass(frozen=True)
class Site:
    url: str
    app: App
    token: str
    versions: dict[int, ModelVersion]
    tokens: dict[str, str]  # of users with other grants, by user name


def _registry_state(app: App, tmp: Path) -> dict[int, ModelVersion]:
    """``churn``: version 1 (all features, feature service ``eta_model``) in staging as
    ``@champion`` with a failed production gate and a rejected approval; version 2 (two features)
    in production with passed gates. ``fraud``: one registered version."""
    registry = app.registry
    app.features.apply(driver_definitions(write_driver_stats(tmp / "data")), actor="ops")
    registry.create_model("churn", "Who leaves next quarter", actor="alice")
    register(app, tmp, tags={FEATURE_SERVICE_TAG: "eta_model"})
    register(app, tmp, features=["tenure_months", "contract"])
    registry.transition("churn", 1, "staging", actor="bob", comment="looks good offline")
    registry.set_alias("churn", "champion", 1, actor="bob")
    evaluation = churn_data()[1]
    registry.set_policy("churn", {"min": {"auc": 0.6}, "max": {"log_loss": 5.0}}, actor="rita")
    registry.evaluate_gates("churn", 2, "production", evaluation, label=LABEL, actor="dave")
    registry.transition("churn", 2, "staging", actor="bob")
    registry.transition("churn", 2, "production", actor="bob", comment="ship the small one")
    registry.set_policy("churn", GatePolicy(min={"auc": 0.99}), actor="rita")
    registry.evaluate_gates("churn", 1, "production", evaluation, label=LABEL, actor="dave")
    request = registry.request_approval("churn", 1, "production", actor="alice", comment="please")
    registry.decide_approval(request.id, False, actor="rita", comment="auc below the bar")
    register(app, tmp, "fraud", model=train(["tenure_months"]), features=["tenure_months"])
    return {n: registry.get_version("churn", n) for n in (1, 2)}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("ui-models")
    app = build_app(load_settings(home=workdir / "home"))
    try:
        app.accounts.create_user(VIEWER, role="viewer")  # the pages only read
        token = app.accounts.create_token(VIEWER, name="browser").secret
        app.accounts.create_user("nora")  # no role at all
        app.accounts.create_user("sam")  # may read the fraud model only
        app.accounts.grant_role("sam", "viewer", model="fraud", actor="admin")
        tokens = {user: app.accounts.create_token(user).secret for user in ("nora", "sam")}
        versions = _registry_state(app, workdir)
        with start_live_server(app) as server:
            yield Site(server.url, app, token, versions, tokens)
    finally:
        app.close()


# -- the list -------------------------------------------------------------------------------------


def test_models_list_shows_production_aliases_and_latest_version(page: Page, site: Site) -> None:
    login(page, site, "/ui")
    page.locator("nav.main-nav").get_by_role("link", name="Models").click()
    expect(page.get_by_role("heading", name="Models")).to_be_visible()
    rows = page.locator("table.models tbody tr")
    expect(rows).to_have_count(2)
    churn = page.locator("table.models tr[data-model=churn]")
    expect(churn).to_contain_text("Who leaves next quarter")
    expect(churn.locator("td.production")).to_have_text("version 2")
    expect(churn.locator("td.aliases")).to_have_text("@champion → 1")
    expect(churn.locator("td.latest")).to_have_text("2")
    fraud = page.locator("table.models tr[data-model=fraud]")
    expect(fraud.locator("td.production")).to_have_text("—")
    expect(fraud.locator("td.latest")).to_have_text("1")

    churn.locator("td.production").get_by_role("link", name="version 2").click()
    expect(page.get_by_role("heading", name="churn version 2")).to_be_visible()


# -- one model ------------------------------------------------------------------------------------


def test_model_page_shows_versions_with_stages_metrics_and_lifecycle_history(page: Page, site: Site) -> None:
    login(page, site, "/ui/models")
    page.get_by_role("link", name="churn", exact=True).click()
    expect(page.get_by_role("heading", name="churn")).to_be_visible()

    v1 = page.locator("table.versions tr[data-version='1']")
    v2 = page.locator("table.versions tr[data-version='2']")
    expect(v1.locator(".status")).to_have_text("staging")
    expect(v2.locator(".status")).to_have_text("production")
    expect(v1).to_contain_text("@champion")
    expect(v2).not_to_contain_text("@champion")
    accuracy = site.versions[1].metrics["accuracy"]
    expect(v1.locator("td.metric")).to_have_text(f"{accuracy:.5g}")
    expect(v1).to_contain_text("alice")  # created by
    expect(page.locator("table.versions thead")).to_contain_text("accuracy")

    history = page.locator("table.history tbody tr")
    # Newest first: 2 -> production, 2 -> staging, 1 -> staging, 2 registered, 1 registered.
    expect(history).to_have_count(5)
    expect(history.nth(0)).to_contain_text("ship the small one")
    expect(history.nth(0).locator(".status").last).to_have_text("production")
    expect(history.nth(0)).to_contain_text("bob")
    expect(page.locator("table.policy")).to_contain_text("at least 0.99")

    v1.get_by_role("link", name="1", exact=True).click()
    expect(page.get_by_role("heading", name="churn version 1")).to_be_visible()


# -- one version ----------------------------------------------------------------------------------


def test_version_page_shows_lineage_signature_and_links_to_its_run(page: Page, site: Site) -> None:
    version = site.versions[1]
    login(page, site, "/ui/models/churn/versions/1")
    expect(page.locator("h1 .status")).to_have_text("staging")
    assert version.training_data is not None
    expect(page.locator(".training-data")).to_contain_text(version.training_data.digest)
    expect(page.locator(".training-data")).to_contain_text("2,000 rows")
    signature = page.locator("table.signature tbody tr")
    expect(signature).to_have_count(len(version.signature["inputs"]) + len(version.signature["outputs"]))
    expect(page.locator("table.signature tr.input", has_text="monthly_charges")).to_contain_text("float64")
    expect(page.locator("table.signature tr.output")).to_contain_text("prediction")

    page.locator("a.run").click()
    page.wait_for_url(f"{site.url}/ui/runs/{version.run_id}")
    expect(page.locator(".attributes")).to_contain_text(version.run_id)


def test_version_page_links_to_its_feature_service(page: Page, site: Site) -> None:
    login(page, site, "/ui/models/churn/versions/1")
    page.locator(".feature-service").get_by_role("link", name="eta_model").click()
    expect(page.get_by_role("heading", name="eta_model")).to_be_visible()
    expect(page.locator("ul.service-features")).to_contain_text("driver_stats")


def test_failed_gate_is_shown_failed_with_its_margin(page: Page, site: Site) -> None:
    login(page, site, "/ui/models/churn/versions/1")
    report = page.locator(".gate-report")
    expect(report).to_have_count(1)
    expect(report).to_have_class(re.compile(r"\bfailed\b"))
    expect(report.locator("h3 .status")).to_have_text("failed")
    gate = report.locator("tr[data-gate='min auc']")
    expect(gate.locator(".status")).to_have_text("failed")
    expect(gate).to_contain_text("0.99")
    margin = gate.locator("td.margin").inner_text()
    assert margin.startswith("-") and float(margin) < 0, margin


def test_passed_gates_are_shown_passed(page: Page, site: Site) -> None:
    login(page, site, "/ui/models/churn/versions/2")
    report = page.locator(".gate-report")
    expect(report.locator("h3 .status")).to_have_text("passed")
    expect(report.locator("tbody .status")).to_have_text(["passed", "passed"])
    for margin in report.locator("td.margin").all_inner_texts():
        assert margin.startswith("+"), margin


def test_approvals_history_shows_the_decision(page: Page, site: Site) -> None:
    login(page, site, "/ui/models/churn/versions/1")
    (row,) = page.locator("table.approvals tbody tr").all()
    expect(row.locator(".status").nth(1)).to_have_text("rejected")
    for text in ("alice", "please", "rita", "auc below the bar"):
        expect(row).to_contain_text(text)


def test_compare_with_another_version(page: Page, site: Site) -> None:
    login(page, site, "/ui/models/churn/versions/1")
    expect(page.locator("table.version-compare")).to_have_count(0)
    page.get_by_label("Compare with").select_option("2")
    page.locator("form.compare-with").get_by_role("button", name="Compare").click()
    page.wait_for_url(re.compile(r"/ui/models/churn/versions/1\?compare=2$"))
    table = page.locator("table.version-compare")
    expect(table.locator("thead")).to_contain_text("version 2")
    expect(table.locator("tr[data-key=features]")).to_have_class(re.compile(r"\bdiff\b"))
    expect(table.locator("tr.features")).to_contain_text(
        "added: monthly_charges, payment_method, support_calls"
    )
    delta = site.versions[1].metrics["accuracy"] - site.versions[2].metrics["accuracy"]
    expect(table.locator("tr.metric[data-key=accuracy] td.num")).to_have_text(
        f"{'+' if delta > 0 else ''}{delta:.5g}"
    )
    expect(page.get_by_label("Compare with")).to_have_value("2")


def test_model_card_is_rendered_on_the_version_page(page: Page, site: Site) -> None:
    login(page, site, "/ui/models/churn/versions/1")
    card = page.frame_locator("iframe.card-frame")
    expect(card.get_by_role("heading", name="Model card: churn version 1")).to_be_visible()
    expect(card.locator("body")).to_contain_text("Who leaves next quarter")
    expect(card.locator("body")).to_contain_text("auc below the bar")  # the rejected approval
    frame = page.locator("iframe.card-frame")
    expect(frame).to_have_attribute("sandbox", "allow-same-origin")  # no script runs in the card
    # The frame grows to the whole card: nothing is cut off behind an inner scrollbar.
    page.wait_for_function(
        """() => { const f = document.querySelector("iframe.card-frame");
                   const doc = f.contentDocument && f.contentDocument.documentElement;
                   return doc && f.clientHeight >= doc.scrollHeight && f.clientHeight > 640; }"""
    )


# -- errors and access ----------------------------------------------------------------------------


def test_unknown_model_and_version_are_not_found_pages(page: Page, site: Site) -> None:
    login(page, site, "/ui/models")
    for path, text in (("/ui/models/nope", "nope"), ("/ui/models/churn/versions/9", "9")):
        response = page.goto(site.url + path)
        assert response is not None and response.status == 404, path
        expect(page.get_by_role("alert")).to_contain_text(text)
    response = page.goto(f"{site.url}/ui/models/churn/versions/1?compare=abc")
    assert response is not None and response.status == 422
    expect(page.get_by_role("alert")).to_contain_text("version")


def test_visitor_is_sent_to_login_and_back(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/ui/models/churn/versions/2")
    assert page.url.startswith(f"{site.url}/ui/login?next=")
    page.get_by_label("Token").fill(site.token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{site.url}/ui/models/churn/versions/2")
    expect(page.get_by_role("heading", name="churn version 2")).to_be_visible()


def test_a_user_without_models_read_is_refused(page: Page, site: Site) -> None:
    login(page, site, "/ui/models/churn", site.tokens["nora"])
    expect(page.get_by_role("alert")).to_contain_text("models.read")
    expect(page.locator("table.versions")).to_have_count(0)
    response = page.reload()
    assert response is not None and response.status == 403


def test_a_grant_on_one_model_shows_that_model_only(page: Page, site: Site) -> None:
    login(page, site, "/ui/models/fraud", site.tokens["sam"])
    expect(page.get_by_role("heading", name="fraud")).to_be_visible()
    expect(page.locator("table.versions tbody tr")).to_have_count(1)
    for path in ("/ui/models/churn", "/ui/models/churn/versions/1", "/ui/models"):
        response = page.goto(site.url + path)
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("alert")).to_contain_text("models.read")
