"""End to end through the facade, on SQLite and PostgreSQL metadata: apply -> historical (point in
time) -> save a dataset -> new version, old dataset reproducible -> materialize -> online reads
that equal the offline values -> statistics and watermark in the catalog."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from shipyard.app import App, build_app
from shipyard.client import Client
from shipyard.config import load_settings
from shipyard.errors import NotFound
from shipyard.features.model import FeatureView
from shipyard.migrations import runner
from shipyard.storage.metadata.database import Database
from support.databases import fresh_postgres_database, seed_embedded_home
from support.features import T0, driver_definitions, write_driver_stats


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    home = tmp_path / "home"
    if request.param == "sqlite":
        app = build_app(load_settings(home=seed_embedded_home(home)))
        yield app
        app.close()
        return
    with fresh_postgres_database() as url:
        db = Database(url)
        runner.upgrade(db)
        db.dispose()
        app = build_app(load_settings(home=home, db_url=url))
        yield app
        app.close()


def _entity_df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": [1, 3, 9, 2, 2],
            "event_timestamp": [
                T0 + timedelta(hours=7),
                T0 + timedelta(hours=20),
                T0 + timedelta(hours=20),
                T0 - timedelta(hours=1),
                T0 + timedelta(hours=23),
            ],
            "fare": [10.0, 20.0, 30.0, 40.0, 50.0],
        }
    )


def test_apply_train_save_materialize_serve(app: App, tmp_path: Path) -> None:
    store = app.features
    data = write_driver_stats(tmp_path / "data")
    defs = driver_definitions(data)
    store.apply(defs, actor="alice")

    # -- point in time ---------------------------------------------------------------------------
    entity_df = _entity_df()
    frame = store.get_historical_features(entity_df, service="eta_model")
    assert list(frame.columns) == ["driver_id", "event_timestamp", "fare", "trips", "rating", "rating_x_fare"]
    trips = frame["trips"].tolist()
    # driver 3's 18h row was created two days late: invisible at 20h, so the 12h row is used.
    assert trips[:2] == [106, 312]
    assert pd.isna(trips[2]) and pd.isna(trips[3])  # unknown driver; before any row
    assert trips[4] == 218
    assert frame["rating_x_fare"].iloc[0] == pytest.approx(frame["rating"].iloc[0] * 10.0)
    leaky = store.get_historical_features(entity_df, ["driver_stats:trips"], respect_created_timestamp=False)
    assert leaky["trips"].tolist()[1] == 318

    # -- dataset, then a new version: the dataset stays reproducible ----------------------------
    resolved = store.resolve(service="eta_model")
    ds = store.save_dataset("eta_train", frame, resolved, entity_df, actor="alice")
    assert (ds.name, ds.version, ds.num_rows) == ("eta_train", 1, 5)
    assert ds.feature_versions == {"driver_stats": 1, "driver_fare": 1}
    assert ds.feature_service == "eta_model"
    assert ds.features == ("driver_stats@1:trips", "driver_stats@1:rating", "driver_fare@1:rating_x_fare")
    assert [p for p, _ in ds.source_files] and all(d for _, d in ds.source_files)
    assert store.datasets.read(ds).num_rows == 5
    assert store.datasets.get("eta_train").digest == ds.digest

    # A run logs the saved dataset as its input: same digest and location, tagged with the service.
    with Client(app.settings) as client, client.start_run("eta") as run:
        run.log_dataset(ds, "eta_train")
        run_id = run.id
    logged = app.tracking.run_datasets(run_id)[0].dataset
    assert (logged.digest, logged.location, logged.num_rows) == (ds.digest, ds.location, 5)
    assert app.tracking.get_run(run_id).tags["shipyard.feature_service"] == "eta_model"

    stats = defs[1]
    assert isinstance(stats, FeatureView)
    store.apply([defs[0], replace(stats, ttl=None), *defs[2:]], actor="bob")
    assert store.describe("driver_stats").summary.latest_version == 2
    again = store.get_historical_features(entity_df, service="eta_model", versions=ds.feature_versions)
    pd.testing.assert_frame_equal(again, frame)
    late = pd.DataFrame({"driver_id": [1], "event_timestamp": [T0 + timedelta(hours=31)]})
    assert pd.isna(store.get_historical_features(late, ["driver_stats@1:trips"])["trips"].iloc[0])  # past ttl
    v2 = store.get_historical_features(late, ["driver_stats:trips"])
    assert v2["trips"].tolist() == [118]  # v2 has no ttl
    newer = store.get_historical_features(entity_df, service="eta_model")
    second = store.save_dataset(
        "eta_train", newer, store.resolve(service="eta_model"), entity_df, actor="bob"
    )
    assert second.version == 2 and second.feature_versions["driver_stats"] == 2

    # -- materialize and serve -------------------------------------------------------------------
    seen: list[tuple[str, int, int | None]] = []
    results = store.materialize(T0, T0 + timedelta(days=1), progress=lambda *a: seen.append(a))
    assert [(r.view_name, r.view_version, r.status) for r in results] == [("driver_stats", 2, "succeeded")]
    assert seen
    online = store.get_online_features(
        service="eta_model",
        entity_rows=[{"driver_id": 1}, {"driver_id": 3}, {"driver_id": 9}],
        request_data={"fare": [10.0, 20.0, 30.0]},
    )
    assert online.columns["trips"] == [118, 318, None]
    assert [s["trips"] for s in online.statuses] == ["present", "present", "not_found"]

    # Train/serve consistency: the offline frame at the end of the window, with the same request
    # data, gives exactly the online values (on-demand feature included).
    at_end = pd.DataFrame(
        {"driver_id": [1, 3], "event_timestamp": [T0 + timedelta(days=1)] * 2, "fare": [10.0, 20.0]}
    )
    offline = store.get_historical_features(at_end, service="eta_model", respect_created_timestamp=False)
    for column in ("trips", "rating", "rating_x_fare"):
        assert offline[column].tolist() == online.columns[column][:2]

    # -- catalog: statistics of the materialization, watermark of incremental runs --------------
    latest = store.latest_statistics("driver_stats")
    assert latest is not None and latest.materialization_id == results[0].id
    by_feature = {s["feature"]: s for s in latest.stats}
    assert by_feature["trips"]["count"] == 12
    store.materialize_incremental(end=T0 + timedelta(days=2))
    described = store.describe("driver_stats")
    assert described.watermark is not None and described.watermark[0] == 2
    assert described.statistics is not None
    with pytest.raises(NotFound):
        store.latest_statistics("nope")


def test_statistics_describe_the_version_materialized_even_if_a_newer_one_is_applied_meanwhile(
    app: App, tmp_path: Path
) -> None:
    store = app.features
    defs = driver_definitions(write_driver_stats(tmp_path / "data"))
    store.apply(defs, actor="alice")
    stats = defs[1]
    assert isinstance(stats, FeatureView)
    fewer = replace(stats, features=[f for f in stats.features if f.name != "city"])
    applied: list[int] = []

    def apply_during_the_run(view: str, rows: int, total: int | None) -> None:
        if not applied:  # another user applies version 2 while version 1 is being written
            store.apply([defs[0], fewer], actor="bob")
            applied.append(store.describe("driver_stats").summary.latest_version)

    (result,) = store.materialize(T0, T0 + timedelta(days=1), progress=apply_during_the_run)
    assert (result.view_version, applied) == (1, [2])
    latest = store.latest_statistics("driver_stats")
    assert latest is not None and latest.materialization_id == result.id
    assert latest.view_version == 1  # the version whose rows were written, with all its features
    assert sorted(s["feature"] for s in latest.stats) == ["city", "rating", "trips"]


def test_pushed_rows_are_served_online_and_visible_offline(app: App, tmp_path: Path) -> None:
    from shipyard.features.model import Entity, PushSource

    store = app.features
    rider = Entity("rider", {"rider_id": "int64"})
    clicks = FeatureView(
        "rider_clicks",
        entities=[rider],
        features={"clicks": "int64"},
        source=PushSource(
            "clicks_push", {"rider_id": "int64", "event_timestamp": "timestamp", "clicks": "int64"}
        ),
    )
    store.apply([rider, clicks], actor="alice")
    rows = pa.table(
        {
            "rider_id": pa.array([1, 2], pa.int64()),
            "event_timestamp": pa.array([T0, T0 + timedelta(hours=1)], pa.timestamp("us", tz="UTC")),
            "clicks": pa.array([5, 7], pa.int64()),
        }
    )
    assert store.push("clicks_push", rows) == 2
    online = store.get_online_features(
        ["rider_clicks:clicks"], entity_rows=[{"rider_id": 2}, {"rider_id": 1}]
    )
    assert online.columns["clicks"] == [7, 5]
    offline = store.get_historical_features(
        pd.DataFrame({"rider_id": [1], "event_timestamp": [T0 + timedelta(minutes=1)]}),
        ["rider_clicks:clicks"],
    )
    assert offline["clicks"].tolist() == [5]
    with pytest.raises(NotFound, match="push source named 'nope'"):
        store.push("nope", rows)


def test_concurrent_applies_never_fork_a_version(app: App, tmp_path: Path) -> None:
    import threading

    from shipyard.errors import Conflict

    store = app.features
    defs = driver_definitions(write_driver_stats(tmp_path / "data"))
    store.apply(defs, actor="alice")
    stats = defs[1]
    assert isinstance(stats, FeatureView)
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def change(hours: int) -> None:
        barrier.wait()
        try:
            store.apply([defs[0], replace(stats, ttl=timedelta(hours=hours))], actor=f"user{hours}")
            outcomes.append("applied")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=change, args=(h,)) for h in (1, 2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 4 and "applied" in outcomes
    versions = [v.version for v in store.describe("driver_stats").versions]
    assert versions == list(range(1, 2 + outcomes.count("applied")))
    assert len(app.audit.list(action="feature.apply", object_type="feature_view")) == len(versions)
