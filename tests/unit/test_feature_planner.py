"""Planning: bad definitions are all reported before anything is written; the diff against the
registry says what apply will do."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from shipyard.errors import InvalidInput
from shipyard.features.model import Entity, FeatureService, FeatureView, Field, FileSource
from shipyard.features.offline import OfflineStore
from shipyard.features.planner import make_plan
from shipyard.storage.artifacts.local import LocalArtifactStore
from support.features import driver_definitions, write_driver_stats


@pytest.fixture
def offline(tmp_path: Path) -> OfflineStore:
    return OfflineStore(artifacts=LocalArtifactStore(tmp_path / "artifacts"), memory_limit="256MB")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_driver_stats(tmp_path / "data")


def test_a_valid_set_plans_every_definition_as_added(offline: OfflineStore, data: Path) -> None:
    plan = make_plan(driver_definitions(data), {}, offline.schema)
    assert [(c.kind, c.name, c.status, c.new_version) for c in plan.changes] == [
        ("entity", "driver", "added", 1),
        ("feature_view", "driver_stats", "added", 1),
        ("request_source", "ride", "added", 1),
        ("on_demand_feature_view", "driver_fare", "added", 1),
        ("feature_service", "eta_model", "added", 1),
    ]
    view = next(c for c in plan.changes if c.name == "driver_stats")
    assert view.spec["join_keys"] == ["driver_id"]


def test_every_problem_is_reported_at_once_naming_definition_and_field(
    offline: OfflineStore, data: Path, tmp_path: Path
) -> None:
    source = FileSource("stats", str(data))
    bad = [
        Entity("driver", {"driver_id": "int64"}),
        FeatureView("unknown_entity", entities=["rider"], features={"trips": "int64"}, source=source),
        FeatureView("wrong_type", entities=["driver"], features={"city": "float64"}, source=source),
        FeatureView(
            "no_timestamp",
            entities=["driver"],
            features={"trips": "int64"},
            source=source,
            timestamp_field="ts",
        ),
        FeatureView(
            "no_created",
            entities=["driver"],
            features={"trips": "int64"},
            source=source,
            created_timestamp_field="inserted_at",
        ),
        FeatureView("missing_column", entities=["driver"], features={"speed": "float64"}, source=source),
        FeatureView(
            "bad_sql",
            entities=["driver"],
            features={"trips": "int64"},
            source=source,
            transformation="SELECT nonsense FROM source",
        ),
        FeatureView(
            "missing_file",
            entities=["driver"],
            features={"trips": "int64"},
            source=FileSource("gone", str(tmp_path / "gone.parquet")),
        ),
        FeatureService(
            "dup_outputs", ["wrong_type:city", "missing_column", "no_created:trips", "bad_sql:trips"]
        ),
        FeatureService("unknown_refs", ["nowhere:x", "no_created:nope"]),
    ]
    with pytest.raises(InvalidInput) as caught:
        make_plan(bad, {}, offline.schema)
    message = str(caught.value)
    expected = [
        "feature view 'unknown_entity' (entities): unknown entity 'rider'",
        "feature view 'wrong_type' (features): feature column 'city' is string, expected a type float64 accepts",
        "feature view 'no_timestamp' (timestamp_field): timestamp column 'ts' is not in the source",
        "feature view 'no_created' (created_timestamp_field): created timestamp column 'inserted_at' is not in",
        "feature view 'missing_column' (features): feature column 'speed' is not in the source",
        "feature view 'bad_sql' (source):",
        "feature view 'missing_file' (source):",
        "feature service 'dup_outputs' (features): output name 'trips' appears twice",
        "feature service 'unknown_refs' (features): unknown feature view 'nowhere'",
        "feature service 'unknown_refs' (features): feature view 'no_created' has no feature 'nope'",
    ]
    for part in expected:
        assert part in message
    assert message.startswith("10 problem(s)")
    assert caught.value.field == "definitions"


def test_the_same_name_twice_with_different_contents_is_refused(offline: OfflineStore, data: Path) -> None:
    one = driver_definitions(data)
    stats = one[1]
    assert isinstance(stats, FeatureView)
    other = replace(stats, description="another")
    with pytest.raises(InvalidInput, match="feature view 'driver_stats' \\(name\\): defined twice"):
        make_plan([*one, other], {}, offline.schema)


def test_join_key_type_must_match_the_source(offline: OfflineStore, tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"
    pd.DataFrame(
        {"driver_id": ["a"], "event_timestamp": pd.to_datetime(["2026-01-01"]), "x": [1]}
    ).to_parquet(path)
    bad = [
        Entity("driver", {"driver_id": "int64"}),
        FeatureView("v", entities=["driver"], features={"x": "int64"}, source=FileSource("s", str(path))),
    ]
    with pytest.raises(InvalidInput, match="join key column 'driver_id' is string"):
        make_plan(bad, {}, offline.schema)


def test_features_may_widen_but_not_change_meaning(offline: OfflineStore, data: Path) -> None:
    defs = [
        Entity("driver", {"driver_id": "int64"}),
        FeatureView(
            "widened",
            entities=["driver"],
            features=[Field("trips", "float64"), Field("rating", "float32")],
            source=FileSource("s", str(data)),
        ),
    ]
    assert [c.status for c in make_plan(defs, {}, offline.schema).changes] == ["added", "added"]


def test_on_demand_views_need_registered_inputs_and_distinct_names(offline: OfflineStore, data: Path) -> None:
    defs = driver_definitions(data)
    entity, stats, ride, on_demand = defs[0], defs[1], defs[2], defs[3]
    with pytest.raises(
        InvalidInput, match="on demand feature view 'driver_fare' \\(sources\\): unknown feature view"
    ):
        make_plan([entity, ride, on_demand], {}, offline.schema)
    assert isinstance(stats, FeatureView)
    clash = replace(stats, name="driver_fare")
    with pytest.raises(InvalidInput, match="share this name"):
        make_plan([entity, stats, ride, on_demand, clash], {}, offline.schema)
