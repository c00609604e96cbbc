"""The runs table on an experiment as wide as real work: a dozen long params and several metrics,
a sweep with nested trials. Driven in Chromium at a laptop's 1440 px."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from test_ui import Site

from shipyard.app import build_app
from shipyard.config import load_settings
from support.browser import login
from support.live_server import start_live_server

pytestmark = pytest.mark.slow

USER = "wide"
PARAMS = {f"preprocessing_step_{k:02d}": f"standard-scaler-with-option-{k}-enabled" for k in range(12)}
TRIALS = [("gbm", 0.91), ("logreg", 0.78), ("gbm", 0.91)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("runs-table")
    app = build_app(load_settings(home=workdir / "home"))
    try:
        app.accounts.create_user(USER, role="viewer")
        token = app.accounts.create_token(USER).secret
        t = app.tracking
        t.create_experiment("wide")
        runs: dict[str, str] = {}
        for i in range(3):
            run = t.create_run("wide", name=f"baseline-{i}", user=USER)
            t.log_params(run.id, PARAMS)
            t.log_metrics(run.id, [("val_auc", 0.7 + i / 100, 0, 1_000), ("val_loss", 0.5, 0, 1_000)])
            t.end_run(run.id)
            runs[run.name] = run.id
        sweep = t.create_run("wide", name="sweep", user=USER)
        runs["sweep"] = sweep.id
        for i, (model, auc) in enumerate(TRIALS):
            trial = t.create_run("wide", name=f"trial-{i}", user=USER, parent_id=sweep.id)
            t.log_params(trial.id, {**PARAMS, "model": model, "seed": 7})
            t.log_metrics(trial.id, [("val_auc", auc, 0, 2_000), ("val_loss", 0.3 + i / 10, 0, 2_000)])
            t.end_run(trial.id)
            runs[f"trial-{i}"] = trial.id
        t.end_run(sweep.id)
        with start_live_server(app) as server:
            yield Site(server.url, app, token, runs, workdir)
    finally:
        app.close()


def _open(page: Page, site: Site, path: str = "/ui/experiments/wide") -> None:
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, site, path)


def _visible_names(page: Page) -> list[str]:
    return page.locator("table.runs tbody tr:visible td.name > a:first-of-type").all_inner_texts()


def test_a_metric_column_is_visible_at_1440_px(page: Page, site: Site) -> None:
    _open(page, site)
    wrap = page.locator(".table-wrap")
    widths = wrap.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert widths[0] > widths[1] + 1000, widths  # the table really is wider than the screen
    for key in ("val_auc", "val_loss"):
        expect(page.locator(f'table.runs th[data-col="metrics.{key}"]')).to_be_in_viewport()
    row = page.locator("table.runs tbody tr", has_text="baseline-2")
    expect(row.locator('td[data-col="metrics.val_auc"]')).to_be_in_viewport()
    expect(row.locator('td[data-col="metrics.val_auc"]')).to_have_text("0.72")


def test_the_name_column_stays_visible_when_scrolled_sideways(page: Page, site: Site) -> None:
    _open(page, site)
    wrap = page.locator(".table-wrap")
    last = page.locator('table.runs th[data-col="attributes.duration"]')
    expect(last).not_to_be_in_viewport()
    wrap.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    expect(last).to_be_in_viewport()
    expect(page.locator('table.runs th[data-col="metrics.val_auc"]')).not_to_be_in_viewport()
    name = page.locator("table.runs tbody tr", has_text="baseline-0").locator("td.name")
    expect(name).to_be_in_viewport()
    left = wrap.evaluate("el => el.getBoundingClientRect().left")
    box = name.bounding_box()
    assert box is not None and abs(box["x"] - left) <= 2, (box, left)
    name.get_by_role("link", name="baseline-0").click()  # still usable, not just painted
    expect(page.get_by_role("heading", name="baseline-0")).to_be_visible()


def test_chosen_columns_are_remembered_across_a_reload(page: Page, site: Site) -> None:
    _open(page, site)
    menu = page.locator("#column-menu")
    menu.locator("summary").click()
    menu.get_by_label("val_loss").uncheck()
    menu.get_by_label("preprocessing_step_03").uncheck()
    menu.get_by_label("User").uncheck()
    hidden = ['th[data-col="metrics.val_loss"]', 'th[data-col="params.preprocessing_step_03"]']
    for selector in [*hidden, 'th[data-col="attributes.user"]']:
        expect(page.locator(f"table.runs {selector}")).to_be_hidden()
    page.reload()
    for selector in [*hidden, 'th[data-col="attributes.user"]']:
        expect(page.locator(f"table.runs {selector}")).to_be_hidden()
    expect(page.locator('table.runs td[data-col="metrics.val_loss"]:visible')).to_have_count(0)
    expect(page.locator('table.runs th[data-col="metrics.val_auc"]')).to_be_visible()
    metrics_group = page.locator("table.runs tr.groups th[data-group=metrics]")
    expect(metrics_group).to_have_attribute("colspan", "1")  # the group header spans what is left
    page.locator("#column-menu summary").click()
    expect(page.locator("#column-menu").get_by_label("val_loss")).not_to_be_checked()
    page.locator("#columns-reset").click()
    page.reload()
    expect(page.locator('table.runs th[data-col="metrics.val_loss"]')).to_be_visible()
    expect(metrics_group).to_have_attribute("colspan", "2")


def test_child_runs_nest_under_their_parent_and_expand_and_collapse(page: Page, site: Site) -> None:
    _open(page, site, "/ui/experiments/wide?order_by=name")
    assert _visible_names(page) == ["baseline-0", "baseline-1", "baseline-2", "sweep"]
    toggle = page.get_by_role("button", name="child runs of sweep")
    expect(toggle).to_have_text("▸ 3")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    assert _visible_names(page) == [
        "baseline-0",
        "baseline-1",
        "baseline-2",
        "sweep",
        "trial-0",
        "trial-1",
        "trial-2",
    ]
    trial = page.locator("table.runs tbody tr", has_text="trial-1")
    expect(trial).to_have_attribute("data-parent", site.runs["sweep"])
    expect(trial.locator('td[data-col="params.model"]')).to_have_text("logreg")  # the children's columns
    toggle.click()
    assert _visible_names(page) == ["baseline-0", "baseline-1", "baseline-2", "sweep"]


def test_a_filter_lists_matching_children_with_a_link_to_their_parent(page: Page, site: Site) -> None:
    _open(page, site, "/ui/experiments/wide?filter=params.model+%3D+%27gbm%27&order_by=name")
    assert _visible_names(page) == ["trial-0", "trial-2"]
    pill = page.locator("table.runs tbody tr", has_text="trial-0").locator("a.pill")
    expect(pill).to_have_attribute("href", f"/ui/runs/{site.runs['sweep']}")


def test_compare_highlights_only_the_values_that_differ(page: Page, site: Site) -> None:
    _open(page, site, "/ui/experiments/wide?order_by=name")
    page.get_by_role("button", name="child runs of sweep").click()
    for name in ("trial-0", "trial-1", "trial-2"):
        page.get_by_label(f"select {name}").check()
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url(re.compile(r"/ui/compare\?run="))
    model = page.locator("table.compare tr[data-key=model]")
    expect(model.locator("td")).to_have_text(["gbm", "logreg", "gbm"])
    expect(model.locator("td.diff")).to_have_text(["logreg"])  # only the odd value, not the row
    expect(page.locator("table.compare tr[data-key=seed] td.diff")).to_have_count(0)
    expect(page.locator("table.compare tr[data-key=preprocessing_step_00] td.diff")).to_have_count(0)
    auc = page.locator("table.compare tr.metric[data-key=val_auc]")
    expect(auc.locator("td.diff")).to_have_text(["0.78"])
    loss = page.locator("table.compare tr.metric[data-key=val_loss]")
    expect(loss.locator("td.diff")).to_have_text(
        ["0.4", "0.5"]
    )  # no value shared: the first is the reference
