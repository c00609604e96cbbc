"""Applying definitions makes immutable versions (audited); the catalog lists, searches and
describes them; references resolve to registered versions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.errors import InvalidInput, NotFound
from shipyard.features.model import DefinitionSummary, Entity, FeatureService, FeatureView
from support.databases import seed_embedded_home
from support.features import driver_definitions, write_driver_stats


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = build_app(load_settings(home=seed_embedded_home(tmp_path / "home"), online_store="memory://"))
    yield app
    app.close()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_driver_stats(tmp_path / "data")


def _stats(defs: list[object]) -> FeatureView:
    view = defs[1]
    assert isinstance(view, FeatureView)
    return view


def test_apply_versions_only_what_changed_and_audits_each_version(app: App, data: Path) -> None:
    store = app.features
    defs = driver_definitions(data)
    first = store.apply(defs, actor="alice")
    assert first.summary() == {"added": 5, "changed": 0, "unchanged": 0, "not in repo": 0}

    again = store.apply(driver_definitions(data), actor="alice")
    assert again.summary() == {"added": 0, "changed": 0, "unchanged": 5, "not in repo": 0}
    assert store.describe("driver_stats").summary.latest_version == 1

    changed = [*defs[:1], replace(_stats(defs), ttl=timedelta(hours=6)), *defs[2:4]]  # service left out
    plan = store.plan(changed)
    by_name = {c.name: c for c in plan.changes}
    assert by_name["driver_stats"].status == "changed"
    assert by_name["driver_stats"].changed_fields == ("ttl_seconds",)
    assert by_name["driver_stats"].new_version == 2
    assert by_name["eta_model"].status == "not in repo"
    store.apply(changed, actor="bob")

    described = store.describe("driver_stats")
    assert [(v.version, v.created_by) for v in described.versions] == [(1, "alice"), (2, "bob")]
    assert described.versions[0].spec["ttl_seconds"] == 12 * 3600
    assert described.spec["ttl_seconds"] == 6 * 3600
    assert store.describe("eta_model").summary.latest_version == 1  # never deleted silently

    records = app.audit.list(action="feature.apply")
    assert [(r.actor, r.object_type, r.object_id) for r in records][-1] == (
        "bob",
        "feature_view",
        "driver_stats/2",
    )
    assert len(records) == 6
    last = records[-1]
    assert last.before is not None and last.before["version"] == 1
    assert last.after is not None and last.after["spec"]["ttl_seconds"] == 6 * 3600


def test_invalid_definitions_write_nothing(app: App, data: Path) -> None:
    defs = driver_definitions(data)
    bad = FeatureView("broken", entities=["nobody"], features={"trips": "int64"}, source=_stats(defs).source)
    with pytest.raises(InvalidInput, match="unknown entity 'nobody'"):
        app.features.apply([*defs, bad], actor="alice")
    assert app.features.list_definitions() == []
    assert app.audit.list(action="feature.apply") == []


def test_references_resolve_against_the_registry_and_earlier_applies(app: App, data: Path) -> None:
    store = app.features
    store.apply(driver_definitions(data), actor="alice")
    # A later repository may use the registered entity by name without repeating it.
    extra = FeatureView(
        "driver_city",
        entities=["driver"],
        features={"city": "string"},
        source=_stats(driver_definitions(data)).source,
    )
    store.apply([extra], actor="alice")
    assert store.describe("driver_city").spec["join_keys"] == ["driver_id"]


def test_list_and_search_by_entity_tag_owner_and_text(app: App, data: Path) -> None:
    store = app.features
    store.apply(driver_definitions(data), actor="alice")
    store.apply([Entity("rider", {"rider_id": "string"}, owner="growth")], actor="alice")

    def names(found: list[DefinitionSummary]) -> list[tuple[str, str]]:
        return [(d.kind, d.name) for d in found]

    assert names(store.list_definitions(entity="driver")) == [
        ("entity", "driver"),
        ("feature_view", "driver_stats"),
    ]
    assert names(store.list_definitions(tags={"tier": "gold"})) == [("feature_view", "driver_stats")]
    assert names(store.list_definitions(tags={"tier": "silver"})) == []
    assert names(store.list_definitions(owner="growth")) == [("entity", "rider")]
    assert names(store.list_definitions(kind="feature_service")) == [("feature_service", "eta_model")]
    assert names(store.search("RATING")) == [  # feature names, and a service listing one
        ("feature_service", "eta_model"),
        ("feature_view", "driver_stats"),
        ("on_demand_feature_view", "driver_fare"),
    ]
    assert names(store.search("hourly")) == [("feature_view", "driver_stats")]  # the description
    assert names(store.search("x_fare")) == [("on_demand_feature_view", "driver_fare")]
    assert store.search("nothing-like-this") == []
    with pytest.raises(InvalidInput, match="search text is empty"):
        store.search(" ")
    with pytest.raises(NotFound, match="no feature definition named 'nope'"):
        store.describe("nope")


def test_resolve_features_services_and_pinned_versions(app: App, data: Path) -> None:
    store = app.features
    defs = driver_definitions(data)
    store.apply(defs, actor="alice")
    store.apply([defs[0], replace(_stats(defs), ttl=None)], actor="alice")

    resolved = store.resolve(["driver_stats:rating", "driver_stats:trips"])
    assert resolved.output_columns == ("rating", "trips")
    assert resolved.entity_columns == ("driver_id",)
    assert [(s.view.name, s.version, s.features) for s in resolved.views] == [
        ("driver_stats", 2, ("rating", "trips"))
    ]
    assert resolved.views[0].view.ttl is None

    pinned = store.resolve(["driver_stats@1:trips"])
    assert pinned.views[0].version == 1 and pinned.views[0].view.ttl == timedelta(hours=12)
    assert store.resolve(["driver_stats:trips"], versions={"driver_stats": 1}).views[0].version == 1

    service = store.resolve(service="eta_model", full_feature_names=True)
    assert service.output_columns == (
        "driver_stats__trips",
        "driver_stats__rating",
        "driver_fare__rating_x_fare",
    )
    assert service.request_columns == ("fare",)
    assert service.service == "eta_model"
    # The on-demand view's input view is fetched whole: its function reads every feature.
    assert service.views[0].features == ("trips", "rating", "city")
    assert [s.view.name for s in service.on_demand] == ["driver_fare"]

    with pytest.raises(NotFound, match="no feature view or on demand feature view named 'nope'"):
        store.resolve(["nope:x"])
    with pytest.raises(InvalidInput, match="has no feature 'speed'"):
        store.resolve(["driver_stats:speed"])
    with pytest.raises(NotFound, match="has no version 7"):
        store.resolve(["driver_stats@7:trips"])
    with pytest.raises(InvalidInput, match="versions 1 and 2"):
        store.resolve(["driver_stats@1:trips", "driver_stats@2:rating"])
    with pytest.raises(InvalidInput, match="either features"):
        store.resolve(["driver_stats:trips"], service="eta_model")
    with pytest.raises(NotFound, match="feature service named 'ghost'"):
        store.resolve(service="ghost")


def test_duplicate_output_names_need_full_feature_names(app: App, data: Path) -> None:
    store = app.features
    defs = driver_definitions(data)
    twin = replace(_stats(defs), name="driver_stats_copy")
    store.apply([defs[0], _stats(defs), twin], actor="alice")
    with pytest.raises(InvalidInput, match="'trips' comes from both"):
        store.resolve(["driver_stats:trips", "driver_stats_copy:trips"])
    both = store.resolve(["driver_stats:trips", "driver_stats_copy:trips"], full_feature_names=True)
    assert both.output_columns == ("driver_stats__trips", "driver_stats_copy__trips")


def test_a_service_listing_one_output_twice_is_refused(app: App, data: Path) -> None:
    defs = driver_definitions(data)
    dup = FeatureService("dup", ["driver_stats:trips", "driver_stats"])
    with pytest.raises(InvalidInput, match="output name 'trips' appears twice"):
        app.features.plan([*defs, dup])
