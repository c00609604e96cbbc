"""``shipyard features`` end to end: a feature repository on disk, plan/apply, the catalog,
materialization with progress, online reads, statistics, samples, datasets, one-line errors."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from shipyard.cli import output
from shipyard.client import Client
from shipyard.config import load_settings
from support.cli import fails, invoke, isolate, ok, ok_json
from support.databases import seed_embedded_home
from support.features import T0, write_driver_stats


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(monkeypatch, tmp_path, home=seed_embedded_home(tmp_path / "home"), width=250)
    return tmp_path / "home"


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    """A feature repository folder with one definitions module (uniquely named per test)."""
    data = write_driver_stats(tmp_path / "data")
    folder = tmp_path / "repo"
    folder.mkdir()
    module = f"drivers_{uuid.uuid4().hex[:8]}"
    (folder / f"{module}.py").write_text(
        textwrap.dedent(
            f"""
            import pandas as pd
            from shipyard.features.model import (
                Entity, FeatureService, FeatureView, Field, FileSource, OnDemandFeatureView, RequestSource,
            )

            driver = Entity("driver", {{"driver_id": "int64"}}, owner="ops")
            stats = FeatureView(
                "driver_stats", entities=[driver],
                features=[Field("trips", "int64", description="Trips so far"), Field("rating", "float64"),
                          Field("city", "string")],
                source=FileSource("driver_stats_file", {str(data)!r}),
                created_timestamp_field="created", owner="ops", tags={{"tier": "gold"}},
                description="Hourly driver statistics",
            )
            ride = RequestSource("ride", {{"fare": "float64"}})

            def rating_x_fare(frame: pd.DataFrame) -> pd.DataFrame:
                return pd.DataFrame({{"rating_x_fare": frame["rating"] * frame["fare"]}})

            fare = OnDemandFeatureView("driver_fare", sources=[stats, ride], features={{"rating_x_fare": "float64"}},
                                       function=rating_x_fare)
            eta = FeatureService("eta_model", ["driver_stats:trips", "driver_fare"])
            """
        )
    )
    yield folder
    sys.modules.pop(module, None)


def test_plan_apply_and_browse_the_catalog(repo: Path) -> None:
    planned = ok("features", "plan", str(repo))
    assert "driver_stats" in planned and "added" in planned and "5 added" in planned
    assert ok_json("features", "list") == []  # plan wrote nothing

    applied = ok("features", "apply", str(repo))
    assert "Registered 5 new version(s)." in applied
    again = ok_json("features", "plan", str(repo))
    assert isinstance(again, list) and {c["status"] for c in again} == {"unchanged"}
    assert "Nothing to apply" in ok("features", "apply", str(repo))

    listed = ok_json("features", "list", "--entity", "driver")
    assert [(d["kind"], d["name"]) for d in listed] == [
        ("entity", "driver"),
        ("feature_view", "driver_stats"),
    ]
    assert [d["name"] for d in ok_json("features", "list", "--tag", "tier=gold")] == ["driver_stats"]
    assert [d["name"] for d in ok_json("features", "list", "--owner", "ops")] == ["driver", "driver_stats"]
    assert [d["name"] for d in ok_json("features", "search", "hourly")] == ["driver_stats"]

    described = ok("features", "describe", "driver_stats")
    for text in ("driver_stats_file", "Trips so far", "Versions", "materialized up to", "never"):
        assert text in described
    as_json = ok_json("features", "describe", "driver_stats")
    assert (
        isinstance(as_json, dict)
        and as_json["version"] == 1
        and as_json["spec"]["join_keys"] == ["driver_id"]
    )


def test_materialize_then_read_online_with_stats_and_samples(repo: Path, home: Path) -> None:
    ok("features", "apply", str(repo))
    start, end = T0.isoformat(), (T0 + timedelta(days=1)).isoformat()
    result = invoke("features", "materialize", "--start", start, "--end", end)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "driver_stats" in result.stderr  # the progress bar
    assert "succeeded" in result.stdout

    rows = ok_json(
        "features", "online", "--service", "eta_model",
        "--entity", "driver_id=1", "--entity", "driver_id=42",
        "--request", "fare=10", "--request", "fare=1",
    )  # fmt: skip
    assert isinstance(rows, list)
    assert rows[0]["values"]["trips"] == 118 and rows[0]["statuses"]["trips"] == "present"
    assert rows[0]["values"]["rating_x_fare"] == pytest.approx(10 * (4.1 + 0.18))
    assert rows[1]["values"]["trips"] is None and rows[1]["statuses"]["trips"] == "not_found"
    table = ok("features", "online", "-f", "driver_stats:trips", "--entity", "driver_id=42")
    assert "not_found" in table

    stats = ok_json("features", "stats", "driver_stats")
    assert isinstance(stats, list) and {s["feature"] for s in stats} == {"trips", "rating", "city"}
    computed = ok_json(
        "features", "stats", "driver_stats", "--compute", "--start", start, "--end", T0.isoformat()
    )
    assert isinstance(computed, list) and all(s["count"] == 0 for s in computed)
    sample = ok_json("features", "sample", "driver_stats", "-n", "2")
    assert isinstance(sample, list) and len(sample) == 2 and "trips" in sample[0]

    incremental = ok_json(
        "features", "materialize-incremental", "--end", (T0 + timedelta(days=2)).isoformat()
    )
    assert isinstance(incremental, list) and incremental[0]["view"] == "driver_stats"
    assert "never" not in ok("features", "describe", "driver_stats")


def test_saved_datasets_are_listed_with_their_lineage(repo: Path, home: Path) -> None:
    import pandas as pd

    ok("features", "apply", str(repo))
    assert "No training datasets saved." in ok("features", "datasets", "list")
    with Client(load_settings(home=home)) as client:
        store = client.features
        entity_df = pd.DataFrame(
            {"driver_id": [1, 2], "event_timestamp": [T0 + timedelta(hours=7)] * 2, "fare": [1.0, 2.0]}
        )
        frame = store.get_historical_features(entity_df, service="eta_model")
        store.save_dataset("eta", frame, store.resolve(service="eta_model"), entity_df, actor="alice")
    listed = ok_json("features", "datasets", "list")
    assert isinstance(listed, list) and listed[0]["feature_versions"] == {"driver_stats": 1, "driver_fare": 1}
    shown = ok("features", "datasets", "show", "eta")
    assert "driver_stats.parquet" in shown and "eta_model" in shown


def test_user_mistakes_are_one_line_errors(repo: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad_repo"
    bad.mkdir()
    (bad / f"bad_{uuid.uuid4().hex[:8]}.py").write_text(
        "from shipyard.features.model import FeatureView, FileSource\n"
        "v = FeatureView('v', entities=['ghost'], features={'x': 'int64'}, source=FileSource('s', 'nowhere.parquet'))\n"
    )
    message = fails("features", "plan", str(bad))
    assert "unknown entity 'ghost'" in message and "feature view 'v' (source)" in message
    assert "not a folder" in fails("features", "apply", str(tmp_path / "missing"))
    assert "no feature definition named 'nope'" in fails("features", "describe", "nope")
    ok("features", "apply", str(repo))
    assert "--start must be an ISO-8601" in fails(
        "features", "materialize", "--start", "yesterday", "--end", "2026-01-02"
    )
    assert "--entity takes key=value" in fails(
        "features", "online", "-f", "driver_stats:trips", "--entity", "42"
    )
    assert "has no feature 'speed'" in fails(
        "features", "online", "-f", "driver_stats:speed", "--entity", "driver_id=1"
    )
    assert "no training dataset named 'nope'" in fails("features", "datasets", "show", "nope")


def test_online_reads_never_split_a_feature_name(
    repo: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok("features", "apply", str(repo))
    start, end = T0.isoformat(), (T0 + timedelta(days=1)).isoformat()
    ok("features", "materialize", "--start", start, "--end", end)
    args = ["features", "online", "--service", "eta_model", "--full-names", "--entity", "driver_id=1"]
    args += ["--entity", "driver_id=42", "--request", "fare=10", "--request", "fare=1"]
    names = ("driver_stats__trips", "driver_fare__rating_x_fare")
    wide = ok(*args)  # fits: a column per feature, names whole in the header
    assert all(name in wide for name in names) and "driver_id=1" not in wide
    monkeypatch.setattr(output.console, "_width", 60)
    narrow = ok(*args)  # too wide for 60 columns: a row per feature, a column per entity
    lines = narrow.splitlines()
    for name in names:
        assert sum(name in line for line in lines) == 1, narrow
    assert "driver_id=1" in narrow and "driver_id=42" in narrow and "not_found" in narrow
