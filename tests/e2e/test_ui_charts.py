"""Charts in the web UI, drawn by plotly.js in Chromium from server-side downsampled series."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page, expect
from test_ui import Site

from shipyard.app import build_app
from shipyard.config import load_settings
from shipyard.server.ui.downsample import POINTS, lttb_indices
from support.browser import login
from support.live_server import start_live_server

USER = "charts"
POINTS_LOGGED = 20_000
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "images"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("charts")
    app = build_app(load_settings(home=workdir / "home"))
    try:
        app.accounts.create_user(USER, role="viewer")
        token = app.accounts.create_token(USER).secret
        t = app.tracking
        t.create_experiment("training")
        run = t.create_run("training", name="long-run", user=USER)
        loss = [("loss", math.exp(-s / 4000) + 0.01, s, 1_000_000 + 50 * s) for s in range(POINTS_LOGGED)]
        loss[12_345] = ("loss", 5.0, 12_345, 1_000_000 + 50 * 12_345)  # a spike downsampling must keep
        t.log_metrics(run.id, [*loss, ("auc", 0.9, 0, 2_000)])
        csv = workdir / "feature_importance.csv"
        csv.write_text("feature,importance\ntenure,0.5\ncharges,0.3\ncalls,0.2\n")
        t.log_artifact(run.id, csv, "feature_importance.csv")
        t.end_run(run.id)
        other = t.create_run("training", name="short-run", user=USER)
        t.log_metrics(other.id, [("loss", 1.0 / (s + 1), s, 2_000_000 + s) for s in range(50)])
        t.log_metrics(other.id, [("auc", 0.9000001, 0, 2_000)])  # equal as shown: not highlighted
        t.end_run(other.id)
        sweep = t.create_run("training", name="sweep", user=USER)
        for i, (model, lr, auc) in enumerate(
            [("gbm", 0.05, 0.91), ("logreg", 0.1, 0.78), ("gbm", 0.2, 0.85)]
        ):
            trial = t.create_run("training", name=f"trial-{i}", user=USER, parent_id=sweep.id)
            t.log_params(trial.id, {"model": model, "lr": lr, "seed": 7})
            t.log_metrics(trial.id, [("auc", auc, 0, 3_000)])
            t.end_run(trial.id)
        t.end_run(sweep.id)
        with start_live_server(app) as server:
            yield Site(
                server.url, app, token, {"long": run.id, "short": other.id, "sweep": sweep.id}, workdir
            )
    finally:
        app.close()


def test_lttb_keeps_the_ends_and_the_peaks() -> None:
    x = np.arange(100_000)
    y = np.sin(x / 5000.0)
    y[54_321] = 10.0
    kept = lttb_indices(x, y, POINTS)
    assert len(kept) == POINTS and kept[0] == 0 and kept[-1] == len(x) - 1
    assert 54_321 in kept and np.all(np.diff(kept) > 0)


def _trace(page: Page, index: int = 0) -> dict[str, object]:
    return page.evaluate(
        """i => { const el = document.querySelector('.metric-chart');
                 const t = el.data[i]; return {n: t.y.length, max: Math.max(...t.y), x0: t.x[0],
                 type: el.layout.yaxis.type, traces: el.data.length}; }""",
        index,
    )


def test_run_page_draws_full_metric_charts_downsampled(page: Page, site: Site) -> None:
    login(page, site, f"/ui/runs/{site.runs['long']}")
    chart = page.locator(".metric-chart[data-key=loss]")
    expect(chart.locator(".main-svg").first).to_be_attached()
    expect(page.locator(".metric-chart")).to_have_count(1)  # auc has one point: no chart
    drawn = _trace(page)
    assert drawn["n"] == POINTS and drawn["max"] == 5.0  # ~1,000 points, the spike kept
    page.select_option("#chart-x", "relative")
    page.locator("#chart-log").check()
    page.locator("#chart-smooth").fill("0.9")
    page.wait_for_function("document.querySelector('.metric-chart').data.length === 2")
    drawn = _trace(page)
    assert drawn["type"] == "log" and drawn["x0"] == 0 and drawn["traces"] == 2
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1100, "height": 800})
    if os.environ.get("SHIPYARD_DOCS_SCREENSHOTS"):  # refresh the docs' images
        chart.screenshot(path=str(SCREENSHOTS / "run-metric-chart.png"))


def test_not_found_page_says_so(page: Page, site: Site) -> None:
    login(page, site)
    page.goto(f"{site.url}/ui/runs/0123456789abcdef0123456789abcdef")
    expect(page).to_have_title("Not found · Shipyard")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_compare_overlays_the_runs_curves_and_highlights_only_real_differences(
    page: Page, site: Site
) -> None:
    login(page, site, f"/ui/compare?run={site.runs['long']}&run={site.runs['short']}")
    chart = page.locator(".metric-chart[data-key=loss]")
    expect(chart.locator(".main-svg").first).to_be_attached()
    names = page.evaluate(
        "document.querySelector('.metric-chart').data.map(t => [t.name, t.y.length, Math.max(...t.y)])"
    )
    # the long curve is cut down in the database, its spike kept; the short one comes whole
    assert [n[0] for n in names] == ["long-run", "short-run"]
    assert POINTS // 2 < names[0][1] <= POINTS and names[0][2] == 5.0
    assert names[1][1] == 50
    expect(page.locator("table.compare tr.metric[data-key=auc]")).not_to_have_class(re.compile(r"\bdiff\b"))
    expect(page.locator("table.compare tr.metric[data-key=loss]")).to_have_class(re.compile(r"\bdiff\b"))
    page.set_viewport_size({"width": 1100, "height": 900})
    if os.environ.get("SHIPYARD_DOCS_SCREENSHOTS"):  # refresh the docs' images
        page.screenshot(path=str(SCREENSHOTS / "compare.png"))


def test_run_page_plots_a_logged_importance_csv(page: Page, site: Site) -> None:
    login(page, site, f"/ui/runs/{site.runs['long']}")
    chart = page.locator(".importance-chart")
    expect(chart.locator(".main-svg").first).to_be_attached()
    bars = page.evaluate(
        "(() => { const t = document.querySelector('.importance-chart').data[0]; return [t.y, t.x]; })()"
    )
    assert bars == [["calls", "charges", "tenure"], [0.2, 0.3, 0.5]]  # largest at the top


def test_a_sweep_draws_its_trials_in_parallel_coordinates(page: Page, site: Site) -> None:
    login(page, site, f"/ui/runs/{site.runs['sweep']}")
    expect(page.locator(".sweep-chart .main-svg").first).to_be_attached()
    dims = page.evaluate(
        "document.querySelector('.sweep-chart').data[0].dimensions.map(d => [d.label, d.values.length])"
    )
    assert dims == [["lr", 3], ["model", 3], ["auc", 3]]  # seed is the same everywhere: no axis
    if os.environ.get("SHIPYARD_DOCS_SCREENSHOTS"):  # refresh the docs' images
        page.set_viewport_size({"width": 1100, "height": 900})
        page.locator("section.sweep").screenshot(path=str(SCREENSHOTS / "sweep.png"))
