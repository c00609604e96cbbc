"""Feature definitions: specs round-trip, digests track changes, feature repositories load."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from shipyard.errors import InvalidInput
from shipyard.features.model import (
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    OnDemandFeatureView,
    PushSource,
    RequestSource,
    SqlSource,
    parse_feature_ref,
)
from shipyard.features.ondemand import load_function
from shipyard.features.repo import load_repo
from shipyard.features.specs import digest_of, from_spec, to_spec


def ratio(frame):  # type: ignore[no-untyped-def]
    return frame.assign(ratio=frame["spend"] / frame["amount"])[["ratio"]]


customer = Entity(
    "customer", {"customer_id": "int64"}, description="A customer", owner="growth", tags={"pii": "no"}
)


def _spend_view(ttl: timedelta = timedelta(days=30)) -> FeatureView:
    """A new ``spend`` view object each call: equal fields, never the same instance."""
    return FeatureView(
        "spend",
        entities=[customer],
        features=[Field("spend", "float64", description="30-day spend"), Field("orders", "int64")],
        source=FileSource("spend_file", "/data/spend.parquet"),
        created_timestamp_field="created",
        ttl=ttl,
        transformation="SELECT * FROM source WHERE spend >= 0",
        tags={"team": "growth"},
    )


spend = _spend_view()
pushed = FeatureView(
    "clicks",
    entities=["customer"],
    features={"clicks": "int64"},
    source=PushSource(
        "clicks_push", {"customer_id": "int64", "event_timestamp": "timestamp", "clicks": "int64"}
    ),
)
in_sql = FeatureView(
    "balance",
    entities=["customer"],
    features={"balance": "float64"},
    source=SqlSource("ledger", "duckdb:///x.db", table="ledger"),
)
request = RequestSource("txn", {"amount": "float64"})
odfv = OnDemandFeatureView(
    "spend_ratio", sources=[spend, request], features={"ratio": "float64"}, function=ratio
)
service = FeatureService("fraud", ["spend:spend", "spend_ratio"], owner="risk")


@pytest.mark.parametrize("definition", [customer, spend, pushed, in_sql, request, service])
def test_every_kind_round_trips_through_its_spec(definition: object) -> None:
    spec = to_spec(definition)
    assert from_spec(spec) == definition
    assert to_spec(from_spec(spec)) == spec


def test_on_demand_view_is_stored_as_an_import_path_and_a_source_digest() -> None:
    spec = to_spec(odfv)
    assert spec["function_ref"] == f"{__name__}:ratio"
    assert spec["function_digest"].startswith("sha256:")
    assert spec["sources"][0] == {"type": "feature_view", "name": "spend"}
    assert spec["sources"][1]["type"] == "request" and spec["sources"][1]["name"] == "txn"
    back = from_spec(spec, lambda name: {"spend": spend}[name])
    assert isinstance(back, OnDemandFeatureView)
    assert back.function is None and back.sources[0] == spend
    assert load_function(back) is ratio


def test_digest_changes_with_any_field_and_only_then() -> None:
    same = _spend_view()
    assert same is not spend and digest_of(same) == digest_of(spend)
    assert digest_of(_spend_view(ttl=timedelta(days=31))) != digest_of(spend)


def test_versioned_references_parse() -> None:
    assert parse_feature_ref("spend") == ("spend", None, None)
    assert parse_feature_ref("spend:orders") == ("spend", None, "orders")
    assert parse_feature_ref("spend@3:orders") == ("spend", 3, "orders")
    for bad in ("spend@0:orders", "spend@x", ":orders", "spend:", "a:b:c"):
        with pytest.raises(InvalidInput):
            parse_feature_ref(bad)


def _write_repo(folder: Path, suffix: str) -> Path:
    folder.mkdir()
    (folder / f"entities_{suffix}.py").write_text(
        textwrap.dedent(
            """
            from shipyard.features.model import Entity
            driver = Entity("driver", {"driver_id": "int64"})
            """
        )
    )
    (folder / f"views_{suffix}.py").write_text(
        textwrap.dedent(
            f"""
            import pandas as pd
            from shipyard.features.model import FeatureService, FeatureView, FileSource, OnDemandFeatureView, RequestSource
            from entities_{suffix} import driver

            trips = FeatureView("trips", entities=[driver], features={{"trips": "int64"}},
                                source=FileSource("trips_file", "trips.parquet"))

            def doubled(frame: pd.DataFrame) -> pd.DataFrame:
                return pd.DataFrame({{"trips_x2": frame["trips"] * 2}})

            trips_x2 = OnDemandFeatureView("trips_x2", sources=[trips], features={{"trips_x2": "int64"}},
                                           function=doubled)
            svc = FeatureService("eta", [trips, "trips_x2"])
            """
        )
    )
    return folder


def test_a_folder_repo_yields_every_definition_once_and_its_functions_import(tmp_path: Path) -> None:
    repo = _write_repo(tmp_path / "repo", "a")
    found = load_repo(repo)
    assert sorted((type(d).__name__, d.name) for d in found) == [
        ("Entity", "driver"),
        ("FeatureService", "eta"),
        ("FeatureView", "trips"),
        ("OnDemandFeatureView", "trips_x2"),
    ]
    on_demand = next(d for d in found if isinstance(d, OnDemandFeatureView))
    assert on_demand.function_ref == "views_a:doubled"
    stored = from_spec(to_spec(on_demand), lambda name: next(d for d in found if d.name == name))
    assert isinstance(stored, OnDemandFeatureView)
    assert load_function(stored).__name__ == "doubled"


def test_a_changed_function_is_refused_until_applied_again(tmp_path: Path) -> None:
    repo = _write_repo(tmp_path / "repo", "b")
    found = load_repo(repo)
    on_demand = next(d for d in found if isinstance(d, OnDemandFeatureView))
    stored = from_spec(to_spec(on_demand), lambda name: next(d for d in found if d.name == name))
    path = repo / "views_b.py"
    path.write_text(path.read_text().replace("* 2", "* 3"))
    load_repo(repo)  # re-imports the edited module
    with pytest.raises(InvalidInput, match=r"trips_x2.*changed"):
        load_function(stored)


def test_a_single_file_repo_and_bad_repos(tmp_path: Path) -> None:
    one = tmp_path / "one_file_repo_c.py"
    one.write_text(
        "from shipyard.features.model import Entity\nrider = Entity('rider', {'rider_id': 'string'})\n"
    )
    assert [d.name for d in load_repo(one)] == ["rider"]
    with pytest.raises(InvalidInput, match=r"not a folder or a \.py file"):
        load_repo(tmp_path / "missing")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "broken_d.py").write_text(
        "from shipyard.features.model import Entity\nEntity('bad name', {'k': 'int64'})\n"
    )
    with pytest.raises(InvalidInput, match=r"broken_d\.py.*failed to load.*entity name"):
        load_repo(broken)
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "json.py").write_text("x = 1\n")
    with pytest.raises(InvalidInput, match="already taken"):
        load_repo(shadow)
    # A repo that failed to load leaves nothing on sys.path to shadow modules imported later.
    assert str(shadow) not in sys.path and str(broken) not in sys.path


def test_malformed_definitions_fail_at_construction() -> None:
    with pytest.raises(InvalidInput, match="unknown type"):
        Field("x", "decimal")
    with pytest.raises(InvalidInput, match="duplicate name 'a'"):
        FeatureView(
            "v", entities=["e"], features=[Field("a", "int64"), Field("a", "float64")], source=spend.source
        )
    with pytest.raises(InvalidInput, match="ttl"):
        FeatureView("v", entities=["e"], features={"a": "int64"}, source=spend.source, ttl=timedelta(0))


@pytest.fixture(autouse=True)
def _forget_repo_modules() -> Iterator[None]:
    yield
    for name in [
        m for m in sys.modules if m.split("_")[0] in ("entities", "views") or m.startswith("one_file")
    ]:
        sys.modules.pop(name, None)


def test_passwords_in_source_urls_are_masked_for_display() -> None:
    from shipyard.features.specs import redacted

    view = FeatureView(
        "ledger",
        entities=["customer"],
        features={"balance": "float64"},
        source=SqlSource("ledger", "postgresql://app:s3cr%40t@db.internal:5432/bank", table="ledger"),
    )
    spec = to_spec(view)
    shown = redacted(spec)
    assert shown["source"]["url"] == "postgresql://app:***@db.internal:5432/bank"
    assert spec["source"]["url"].startswith("postgresql://app:s3cr%40t@")  # the stored spec keeps it
    assert redacted(to_spec(spend)) == to_spec(spend)
