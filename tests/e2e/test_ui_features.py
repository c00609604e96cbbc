"""The feature catalog's pages in a real headless browser (Debian's Chromium driven by Playwright),
against a live server over definitions applied, re-applied and materialized through the store.

Skipped on a workstation without ``/usr/bin/chromium``; fails under CI (``CI=true``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.features.model import Entity, FeatureView, Field, FileSource
from support.browser import login
from support.features import T0, driver_definitions, write_driver_stats
from support.live_server import start_live_server

pytestmark = pytest.mark.slow

VIEWER = "vera"
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
EVERY_DEFINITION = ["driver", "driver_fare", "driver_stats", "eta_model", "ride", "rider", "weekly_activity"]


@dataclass(frozen=True)
class Site:
    url: str
    app: App
    token: str
    no_role_token: str


def _rider_definitions(folder: Path) -> list[FeatureView | Entity]:
    """A second entity with a view named after neither (found by its entity), never materialized."""
    path = folder / "riders.parquet"
    pd.DataFrame(
        {"rider_id": [1, 2], "event_timestamp": [T0, T0 + timedelta(days=1)], "rides": [3, 5]}
    ).to_parquet(path, index=False)
    rider = Entity("rider", {"rider_id": "int64"}, description="A passenger", owner="growth")
    activity = FeatureView(
        "weekly_activity",
        entities=[rider],
        features=[Field("rides", "int64", description="Rides this week", owner="growth")],
        source=FileSource("riders_file", str(path)),
        description="How much riders ride",
        owner="growth",
        tags={"team": "growth"},
    )
    return [rider, activity]


def _catalog_state(app: App, tmp: Path) -> None:
    """Driver definitions applied twice (the TTL changed from 12h to 6h: ``driver_stats`` has two
    versions) and materialized over 2026-01-01; the rider definitions applied only."""
    source = write_driver_stats(tmp / "data")
    app.features.apply(driver_definitions(source), actor="ops")
    app.features.apply(
        [*driver_definitions(source, ttl=timedelta(hours=6)), *_rider_definitions(tmp)], actor="olga"
    )
    app.features.materialize(T0, T0 + timedelta(days=1), ["driver_stats"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("ui-features")
    app = build_app(load_settings(home=workdir / "home"))
    try:
        app.accounts.create_user(VIEWER, role="viewer")
        app.accounts.create_user("nora")  # no role at all
        token = app.accounts.create_token(VIEWER, name="browser").secret
        no_role = app.accounts.create_token("nora").secret
        _catalog_state(app, workdir)
        with start_live_server(app) as server:
            yield Site(server.url, app, token, no_role)
    finally:
        app.close()


def listed(page: Page) -> list[str]:
    return sorted(page.locator("table.catalog tbody td.name a").all_inner_texts())


def search(page: Page, text: str) -> None:
    page.get_by_label("Search").fill(text)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"/ui/features\?q="))


# -- the catalog ----------------------------------------------------------------------------------


def test_catalog_lists_every_definition_with_its_kind(page: Page, site: Site) -> None:
    login(page, site, "/ui")
    page.locator("nav.main-nav").get_by_role("link", name="Features").click()
    expect(page.get_by_role("heading", name="Feature catalog")).to_be_visible()
    assert listed(page) == EVERY_DEFINITION
    stats = page.locator("table.catalog tr[data-name=driver_stats]")
    expect(stats.locator(".kind")).to_have_text("feature view")
    expect(stats.locator("td.num")).to_have_text("2")  # re-applied with a new TTL
    expect(stats.locator("td.entities")).to_have_text("driver")
    expect(stats.locator("td.owner")).to_have_text("ops")
    expect(stats.locator("td.tags")).to_contain_text("team=ops")
    expect(page.locator("table.catalog tr[data-name=eta_model] .kind")).to_have_text("feature service")


def test_search_by_name_entity_owner_and_tag(page: Page, site: Site) -> None:
    login(page, site, "/ui/features")
    search(page, "rider")  # the view is found by its entity's name
    assert listed(page) == ["rider", "weekly_activity"]
    expect(page.get_by_label("Search")).to_have_value("rider")
    search(page, "entity:driver")
    assert listed(page) == ["driver", "driver_stats"]
    search(page, "owner:growth")
    assert listed(page) == ["rider", "weekly_activity"]
    search(page, "tag:team=ops")
    assert listed(page) == ["driver_stats"]
    search(page, "rides")  # a feature's name
    assert listed(page) == ["weekly_activity"]
    search(page, "no-such-thing")
    expect(page.locator("table.catalog td.empty")).to_contain_text("Nothing matches")


def test_entity_owner_tag_and_kind_links_filter_the_catalog(page: Page, site: Site) -> None:
    login(page, site, "/ui/features")
    page.locator("tr[data-name=weekly_activity] td.entities").get_by_role("link", name="rider").click()
    expect(page.get_by_label("Search")).to_have_value("entity:rider")
    assert listed(page) == ["rider", "weekly_activity"]
    page.get_by_role("link", name="Clear").click()
    page.locator("tr[data-name=driver_stats] td.owner").get_by_role("link", name="ops").click()
    expect(page.get_by_label("Search")).to_have_value("owner:ops")
    assert listed(page) == ["driver", "driver_stats"]
    page.locator("tr[data-name=driver_stats] td.tags").get_by_role("link", name="tier=gold").click()
    expect(page.get_by_label("Search")).to_have_value("tag:tier=gold")
    assert listed(page) == ["driver_stats"]
    page.locator("tr[data-name=driver_stats]").get_by_role("link", name="feature view").click()
    expect(page.get_by_label("Search")).to_have_value("kind:feature_view")
    assert listed(page) == ["driver_stats", "weekly_activity"]


def test_malformed_search_shows_the_error(page: Page, site: Site) -> None:
    login(page, site, "/ui/features")
    search(page, "tag:team")
    expect(page.get_by_role("alert")).to_contain_text("tag:KEY=VALUE")
    expect(page.get_by_label("Search")).to_have_value("tag:team")  # kept, to fix it
    assert listed(page) == []


# -- one definition -------------------------------------------------------------------------------


def test_view_page_shows_features_source_ttl_versions_statistics_and_watermark(
    page: Page, site: Site
) -> None:
    login(page, site, "/ui/features")
    page.get_by_role("link", name="driver_stats").click()
    expect(page.get_by_role("heading", name="driver_stats")).to_be_visible()
    expect(page.locator(".description")).to_have_text("Hourly driver statistics")
    expect(page.locator("dd.owner")).to_have_text("ops")
    expect(page.locator("dd.tags")).to_contain_text("tier=gold")
    expect(page.locator("dd.ttl")).to_have_text("6h")  # the latest version's
    expect(page.locator(".watermark dd")).to_contain_text("2026-01-02 00:00:00")

    trips = page.locator("table.features tr[data-feature=trips]")
    expect(trips).to_contain_text("int64")
    expect(trips).to_contain_text("Trips so far")
    expect(page.locator("table.features tr[data-feature=city]")).to_contain_text("string")
    expect(page.locator("table.source")).to_contain_text("driver_stats.parquet")

    versions = page.locator("table.def-versions tbody tr")
    expect(versions).to_have_count(2)
    expect(versions.nth(0)).to_contain_text("olga")  # newest first
    expect(versions.nth(1)).to_contain_text("ops")

    # Three drivers, four rows each: trips = driver * 100 + hour.
    stats = page.locator("table.statistics tr[data-feature=trips] td")
    assert stats.all_inner_texts()[1:4] == ["12", "0", "100"]
    expect(page.locator("table.statistics tr[data-feature=trips]")).to_contain_text("318")
    expect(page.locator("table.statistics tr[data-feature=city]")).to_contain_text(
        "paris \N{MULTIPLICATION SIGN} 4"
    )
    expect(page.locator(".stats-when")).to_contain_text("2026-01-01 00:00:00 to 2026-01-02 00:00:00")

    # Each numeric feature's histogram is drawn (plotly bars), its counts adding up to the rows.
    trips_hist = page.locator(".histogram-chart[data-feature=trips]")
    expect(trips_hist.locator(".main-svg").first).to_be_attached()
    counts = page.evaluate("document.querySelector('.histogram-chart[data-feature=trips]').data[0].y")
    assert sum(counts) == 12 and len(counts) > 1
    page.set_viewport_size({"width": 1100, "height": 1400})
    if os.environ.get("SHIPYARD_DOCS_SCREENSHOTS"):  # refresh the docs' images
        page.screenshot(path=str(DOCS_IMAGES / "feature-view.png"), full_page=False)


def test_a_view_never_materialized_says_so(page: Page, site: Site) -> None:
    login(page, site, "/ui/features/weekly_activity")
    expect(page.locator(".watermark dd")).to_have_text("not materialized")
    expect(page.locator("table.statistics")).to_have_count(0)
    expect(page.get_by_text("No statistics yet")).to_be_visible()
    expect(page.locator("dd.ttl")).to_contain_text("never expires")
    page.locator("dd.entities").get_by_role("link", name="rider").click()
    expect(page.get_by_role("heading", name="rider")).to_be_visible()
    expect(page.locator("table.join-keys")).to_contain_text("rider_id")


def test_service_and_on_demand_pages_link_to_the_views_they_read(page: Page, site: Site) -> None:
    login(page, site, "/ui/features/driver_fare")
    expect(page.locator("table.features")).to_contain_text("rating_x_fare")
    expect(page.locator("ul.inputs")).to_contain_text("request data ride")
    page.goto(f"{site.url}/ui/features/eta_model")
    items = page.locator("ul.service-features li")
    expect(items).to_have_count(3)
    items.first.get_by_role("link", name="driver_stats").click()
    expect(page.get_by_role("heading", name="driver_stats")).to_be_visible()


def test_unknown_definition_is_a_not_found_page(page: Page, site: Site) -> None:
    login(page, site, "/ui/features")
    response = page.goto(f"{site.url}/ui/features/no_such_view")
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("no_such_view")


def test_a_user_without_features_read_is_refused(page: Page, site: Site) -> None:
    login(page, site, "/ui/features", site.no_role_token)
    expect(page.get_by_role("alert")).to_contain_text("features.read")
    expect(page.locator("table.catalog")).to_have_count(0)
