"""The web UI in a real headless browser: Debian's Chromium driven by Playwright, against a live
server over tracking data logged through the service.

Playwright never downloads a browser here: the system's ``/usr/bin/chromium`` is launched. Without
it the module is skipped on a workstation and fails under CI (``CI=true``), where ``.ci/run``
installs it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.tracking.model import Column, DatasetInfo, RunEnvironment
from support.browser import login
from support.live_server import start_live_server

pytestmark = pytest.mark.slow

USER = "alice"
MODEL_BYTES = b"\x00pretend this is a pickled gradient-boosted model\xff" * 50


@dataclass(frozen=True)
class Site:
    """The live server, its token, and what was logged (ids by run name)."""

    url: str
    app: App
    token: str
    runs: dict[str, str]
    shots: Path


def _log_runs(app: App, workdir: Path) -> dict[str, str]:
    t = app.tracking
    t.create_experiment("churn", "Who leaves next quarter")
    t.create_experiment("evaluation")
    env = RunEnvironment(
        "3.11.9", "Linux-6.1-x86_64", {"numpy": "2.0.1", "scikit-learn": "1.5.1"}, "train.py"
    )
    sweep = t.create_run("churn", name="sweep", user=USER)
    runs = {"sweep": sweep.id}
    for i, (model, lr, auc) in enumerate([("gbm", 0.05, 0.91), ("logreg", 0.1, 0.78), ("gbm", 0.15, 0.85)]):
        run = t.create_run("churn", name=f"trial-{i}", user=USER, parent_id=sweep.id, environment=env)
        t.log_params(run.id, {"model": model, "lr": lr, "seed": 42})
        loss = [("loss", 1.0 / (step + 1) + 0.02 * i, step, 1_000 + step) for step in range(30)]
        t.log_metrics(run.id, [*loss, ("auc", auc, 0, 2_000)])
        t.set_tags(run.id, {"team": "growth"})
        t.end_run(run.id)
        runs[f"trial-{i}"] = run.id
    t.end_run(sweep.id)
    trial = runs["trial-0"]
    t.update_run(trial, note="baseline features, no scaling")
    train = DatasetInfo(
        "train",
        "sha256:" + "ab" * 32,
        (Column("tenure", "int64"),),
        1234,
        "/data/churn/train.parquet",
        "parquet",
    )
    t.log_dataset(trial, train, context="training")
    model_file = workdir / "model.bin"
    model_file.write_bytes(MODEL_BYTES)
    t.log_artifact(trial, model_file, "model/model.bin")
    # A run in another experiment reads the model the trial wrote: lineage links the two.
    evaluate = t.create_run("evaluation", name="evaluate", user=USER)
    digest = "sha256:" + hashlib.sha256(MODEL_BYTES).hexdigest()
    t.log_dataset(evaluate.id, DatasetInfo("model", digest, (), None, "", "artifact"), context="model")
    runs["evaluate"] = evaluate.id
    return runs


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("ui")
    app = build_app(load_settings(home=workdir / "home"))
    try:
        app.accounts.create_user(USER, role="viewer")  # the UI only reads
        token = app.accounts.create_token(USER, name="browser").secret
        runs = _log_runs(app, workdir)
        with start_live_server(app) as server:
            yield Site(server.url, app, token, runs, workdir)
    finally:
        app.close()


def runs_table_names(page: Page) -> list[str]:
    return page.locator("table.runs tbody td.name > a:first-of-type").all_inner_texts()


# -- authentication -------------------------------------------------------------------------------


def test_unauthenticated_visit_redirects_to_login(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/ui/experiments/churn?filter=status+%3D+%27finished%27")
    assert page.url.startswith(f"{site.url}/ui/login?next=")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.locator("table")).to_have_count(0)
    # The API keeps answering 401 JSON to the same browser.
    api = page.request.get(f"{site.url}/api/v1/experiments")
    assert api.status == 401 and api.json()["error"]["type"] == "Unauthenticated"


def test_bad_token_shows_an_error_and_sets_no_cookie(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/ui/login")
    page.get_by_label("Token").fill("shp_not-a-real-token")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("That token was refused: invalid token")
    assert page.url == f"{site.url}/ui/login"
    assert page.context.cookies() == []


def test_login_returns_to_the_page_asked_for_and_logout_ends_the_session(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/ui/experiments/churn")
    page.get_by_label("Token").fill(site.token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{site.url}/ui/experiments/churn")
    expect(page.get_by_role("heading", name="churn")).to_be_visible()
    (cookie,) = page.context.cookies()
    assert cookie["name"] == "shipyard_token" and cookie["value"] == site.token
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # invisible to page scripts

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{site.url}/ui/login")
    assert page.context.cookies() == []
    page.goto(f"{site.url}/ui")
    assert page.url.startswith(f"{site.url}/ui/login?next=")


def test_a_revoked_token_ends_the_session(page: Page, site: Site) -> None:
    issued = site.app.accounts.create_token(USER, name="short-lived")
    page.goto(f"{site.url}/ui/login")
    page.get_by_label("Token").fill(issued.secret)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Experiments")).to_be_visible()
    site.app.accounts.revoke_token(issued.token.id)
    page.reload()
    assert page.url.startswith(f"{site.url}/ui/login?next=")
    expect(page.locator(".notice")).to_contain_text("Your session ended")
    assert page.context.cookies() == []  # the dead cookie is dropped


def test_login_never_redirects_off_site(page: Page, site: Site) -> None:
    for target in (
        "https://evil.example/phish",
        "//evil.example/x",
        "/\\evil.example",
        "/api/v1/experiments",
    ):
        page.context.clear_cookies()
        page.goto(f"{site.url}/ui/login?next={target}")
        page.get_by_label("Token").fill(site.token)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{site.url}/ui")
        expect(page.get_by_role("heading", name="Experiments")).to_be_visible()


# -- experiments and runs -------------------------------------------------------------------------


def test_experiments_list_shows_each_experiment_with_its_run_count(page: Page, site: Site) -> None:
    login(page, site)
    rows = page.locator("table.experiments tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("churn")
    expect(rows.nth(0).locator("td.num")).to_have_text("4")
    expect(rows.nth(1)).to_contain_text("evaluation")
    page.get_by_role("link", name="churn").click()
    expect(page.get_by_role("heading", name="churn")).to_be_visible()


def test_runs_table_lists_runs_with_param_and_metric_columns_and_filters(page: Page, site: Site) -> None:
    login(page, site, "/ui/experiments/churn")
    assert sorted(runs_table_names(page)) == ["sweep", "trial-0", "trial-1", "trial-2"]
    headers = page.locator("table.runs thead tr:last-child th").all_inner_texts()
    for column in ("Status", "Name", "User", "Started", "Duration", "lr", "model", "seed", "auc", "loss"):
        assert any(h.strip().startswith(column) for h in headers), (column, headers)
    trial = page.locator("table.runs tbody tr", has_text="trial-1")
    expect(trial).to_contain_text("logreg")
    expect(trial).to_contain_text("0.78")
    expect(trial.locator(".status")).to_have_text("finished")

    page.screenshot(path=site.shots / "runs-table.png", full_page=True)

    page.get_by_label("Filter").fill("metrics.auc > 0.8")
    page.get_by_label("Order by").fill("metrics.auc DESC")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"filter=metrics.auc"))
    assert runs_table_names(page) == ["trial-0", "trial-2"]
    expect(page.get_by_label("Filter")).to_have_value("metrics.auc > 0.8")

    page.get_by_label("Filter").fill("params.model = 'gbm' and metrics.auc < 0.9")
    page.get_by_label("Filter").press("Enter")
    page.wait_for_url(re.compile(r"gbm"))
    assert runs_table_names(page) == ["trial-2"]


def test_malformed_filter_shows_the_error_on_the_page(page: Page, site: Site) -> None:
    login(page, site, "/ui/experiments/churn")
    page.get_by_label("Filter").fill("metrics.auc >>> 0.8")
    page.get_by_label("Filter").press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("filter")
    assert "internal server error" not in page.content().lower()
    expect(page.get_by_label("Filter")).to_have_value("metrics.auc >>> 0.8")  # kept, to fix it
    expect(page.locator("table.runs tbody td.name")).to_have_count(0)


def test_runs_table_pages_through_runs(page: Page, site: Site) -> None:
    # A filter lists every matching run, nested ones too, so the four runs make two pages of 3.
    login(page, site, "/ui/experiments/churn?filter=status+%3D+%27finished%27&order_by=name&per_page=3")
    assert runs_table_names(page) == ["sweep", "trial-0", "trial-1"]
    page.get_by_role("link", name="Next →").click()
    assert runs_table_names(page) == ["trial-2"]
    expect(page.get_by_role("link", name="Next →")).to_have_count(0)
    page.get_by_role("link", name="← Previous").click()
    assert runs_table_names(page) == ["sweep", "trial-0", "trial-1"]


# -- one run --------------------------------------------------------------------------------------


def test_run_page_shows_params_sparklines_datasets_artifacts_and_lineage(page: Page, site: Site) -> None:
    login(page, site, f"/ui/runs/{site.runs['trial-0']}")
    expect(page.get_by_role("heading", name="trial-0")).to_be_visible()
    expect(page.locator("table.params")).to_contain_text("model")
    expect(page.locator("table.params tr", has_text="model")).to_contain_text("gbm")
    expect(page.locator(".note")).to_have_text("baseline features, no scaling")
    expect(page.locator("table.tags")).to_contain_text("growth")
    expect(page.locator("table.environment")).to_contain_text("3.11.9")

    loss = page.locator("table.metrics tr[data-metric=loss]")
    expect(loss.locator("td.num").first).to_have_text("0.033333")  # 1/30, the latest step
    points = loss.locator("svg.sparkline polyline").get_attribute("points") or ""
    assert len(points.split()) == 30
    ys = [float(p.split(",")[1]) for p in points.split()]
    assert ys[0] < ys[-1]  # loss falls: the line goes down the picture (SVG y grows downwards)

    dataset = page.locator("table.datasets tbody tr")
    expect(dataset).to_have_count(1)
    for text in ("train", "input: training", "1,234", "ababababab", "/data/churn/train.parquet"):
        expect(dataset).to_contain_text(text)
    artifact = page.locator("table.artifacts tbody tr")
    expect(artifact).to_contain_text("model/model.bin")
    expect(artifact).to_contain_text("2.4 KiB")

    expect(page.locator(".attributes")).to_contain_text("sweep")  # the parent
    outputs = page.locator(".lineage .outputs")
    expect(outputs).to_contain_text("model/model.bin")
    outputs.get_by_role("link", name="evaluate").click()
    expect(page.get_by_role("heading", name="evaluate")).to_be_visible()
    expect(page.locator(".lineage .inputs")).to_contain_text("trial-0")

    page.goto(f"{site.url}/ui/runs/{site.runs['trial-0']}")
    page.screenshot(path=site.shots / "run-page.png", full_page=True)


def test_parent_run_links_its_children(page: Page, site: Site) -> None:
    login(page, site, f"/ui/runs/{site.runs['sweep']}")
    children = page.locator(".children a")
    expect(children).to_have_text(["trial-0", "trial-1", "trial-2"])
    children.nth(1).click()
    expect(page.get_by_role("heading", name="trial-1")).to_be_visible()
    page.locator(".attributes").get_by_role("link", name="sweep").click()
    expect(page.get_by_role("heading", name="sweep")).to_be_visible()


def test_artifact_download_returns_its_bytes(page: Page, site: Site, tmp_path: Path) -> None:
    login(page, site, f"/ui/runs/{site.runs['trial-0']}")
    with page.expect_download() as info:
        page.get_by_role("link", name="model/model.bin").click()
    download = info.value
    assert download.suggested_filename == "model.bin"
    saved = tmp_path / "model.bin"
    download.save_as(saved)
    assert saved.read_bytes() == MODEL_BYTES


def test_unknown_run_is_a_not_found_page(page: Page, site: Site) -> None:
    login(page, site)
    response = page.goto(f"{site.url}/ui/runs/0123456789abcdef0123456789abcdef")
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("does not exist")


# -- compare --------------------------------------------------------------------------------------


def test_compare_two_selected_runs_highlights_differing_params(page: Page, site: Site) -> None:
    login(page, site, "/ui/experiments/churn")
    button = page.get_by_role("button", name="Compare")
    expect(button).to_be_disabled()
    page.get_by_role("button", name="child runs of sweep").click()  # the trials nest under it
    page.get_by_label("select trial-0").check()
    expect(button).to_be_disabled()
    page.get_by_label("select trial-1").check()
    expect(page.locator("#selected-count")).to_have_text("2 selected")
    button.click()

    page.wait_for_url(re.compile(r"/ui/compare\?run="))
    expect(page.get_by_role("heading", name="Compare 2 runs")).to_be_visible()
    columns = page.locator("table.compare thead th a").all_inner_texts()
    assert sorted(columns) == ["trial-0", "trial-1"]
    model = page.locator("table.compare tr[data-key=model]")
    expect(model).to_have_class(re.compile(r"\bdiff\b"))
    expect(model).to_contain_text("gbm")
    expect(model).to_contain_text("logreg")
    expect(page.locator("table.compare tr[data-key=seed]")).not_to_have_class(re.compile(r"\bdiff\b"))
    expect(page.locator("table.compare tr.metric[data-key=auc]")).to_contain_text("0.91")


def test_the_charting_library_is_served_by_our_server_and_draws(page: Page, site: Site) -> None:
    import httpx

    from shipyard.server.ui.charts import plotly_js_url

    login(page, site)
    page.set_content('<div id="c" style="width:400px;height:300px"></div>')
    page.add_script_tag(url=site.url + plotly_js_url())
    page.evaluate("Plotly.newPlot('c', [{x: [1, 2, 3], y: [3, 1, 2], type: 'scatter'}])")
    expect(page.locator("#c .scatterlayer .trace")).to_have_count(1)
    cached = httpx.get(site.url + plotly_js_url())
    assert cached.status_code == 200 and "immutable" in cached.headers["cache-control"]
    assert httpx.get(site.url + "/ui/vendor/plotly-0.0.0.min.js").status_code == 404
