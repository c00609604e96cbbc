"""The pipelines' pages in headless Chromium against a live server: the list, a run's DAG with
each step's state, duration and cache hit, the timeline, and links to step runs and outputs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.pipelines.model import PipelineRun
from support import pipeline_defs as defs
from support.browser import login
from support.live_server import start_live_server

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Site:
    url: str
    app: App
    token: str
    first: PipelineRun
    cached: PipelineRun
    failed: PipelineRun


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("ui-pipelines")
    app = build_app(load_settings(home=home / "home", artifacts=str(home / "artifacts")))
    app.accounts.create_user("vera", role="viewer")
    token = app.accounts.create_token("vera").secret
    first = app.pipelines.run(defs.training, started_by="alice")
    cached = app.pipelines.run(defs.training, {"c": 0.3}, started_by="alice")
    failed = app.pipelines.run(defs.resumable, {"path": str(home / "missing")}, started_by="bob")
    server = start_live_server(app)
    yield Site(server.url, app, token, first, cached, failed)
    server.stop()
    app.close()


def test_pipelines_list_shows_the_last_run(page: Page, site: Site) -> None:
    login(page, site, "/ui")
    page.locator("nav.main-nav").get_by_role("link", name="Pipelines").click()
    expect(page.get_by_role("heading", name="Pipelines")).to_be_visible()
    expect(page.locator("table.pipelines tbody tr")).to_have_count(2)
    expect(page.locator("tr[data-pipeline=resumable] td.state")).to_have_text("FAILED")
    expect(page.locator("tr[data-pipeline=training] td.state")).to_have_text("SUCCEEDED")
    page.get_by_role("link", name="training", exact=True).click()
    expect(page.locator("table.pipeline-runs tbody tr")).to_have_count(2)


def test_run_page_shows_dag_states_cache_hits_and_timeline(page: Page, site: Site) -> None:
    login(page, site, f"/ui/pipelines/runs/{site.cached.id}")
    dag = page.locator("svg.dag")
    expect(dag.locator("g.node")).to_have_count(4)
    expect(dag.locator("g.node[data-node=load]")).to_have_attribute("data-state", "CACHED")
    expect(dag.locator("g.node[data-node=train]")).to_have_attribute("data-state", "SUCCEEDED")
    expect(dag.locator("path.edge[data-from=train][data-to=evaluate]")).to_have_count(1)

    first_load = next(s for s in site.first.steps if s.node == "load")
    load_row = page.locator("table.steps tr[data-node=load]")
    expect(load_row.locator("td.state")).to_have_text("CACHED")
    expect(load_row.locator("td.cache")).to_contain_text(f"hit: {first_load.run_id[-8:]}")  # type: ignore[index]
    expect(page.locator("table.steps tr[data-node=train] td.duration")).to_contain_text(" s")
    expect(page.locator("svg.timeline g.bar")).to_have_count(4)

    train = next(s for s in site.cached.steps if s.node == "train")
    href = page.locator("table.steps tr[data-node=train] td.output a").get_attribute("href")
    assert href == f"/api/v1/runs/{train.run_id}/artifacts/output"
    page.locator("table.steps tr[data-node=train] td.step-run a").click()
    expect(page).to_have_url(f"{site.url}/ui/runs/{train.run_id}")
    expect(page.locator("table.artifacts")).to_contain_text("output")


def test_failed_run_shows_the_failed_and_skipped_steps(page: Page, site: Site) -> None:
    login(page, site, f"/ui/pipelines/runs/{site.failed.id}")
    expect(page.locator("p.error")).to_contain_text("step 'fail_unless' failed")
    dag = page.locator("svg.dag")
    expect(dag.locator("g.node[data-node=fail_unless]")).to_have_attribute("data-state", "FAILED")
    expect(dag.locator("g.node[data-node=noop]")).to_have_attribute("data-state", "SKIPPED")


def test_unknown_run_is_the_404_page(page: Page, site: Site) -> None:
    login(page, site, "/ui/pipelines")
    response = page.goto(f"{site.url}/ui/pipelines/runs/{'0' * 32}")
    assert response is not None and response.status == 404
