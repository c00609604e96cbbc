"""The offline point-in-time join against a brute-force oracle of the semantics written at the top
of ``shipyard.features.model``, on randomised data: TTL edges, equal event timestamps (ties by
created time), late-arriving rows, composite keys, entities without history, duplicate rows."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipyard.features.model import Entity, FeatureView, FileSource
from shipyard.features.offline import OfflineStore
from shipyard.features.selection import ResolvedFeatures, ViewSelection
from shipyard.storage.artifacts.memory import MemoryArtifactStore

BASE = datetime(2024, 3, 1, tzinfo=UTC)
CUSTOMER = Entity("customer", {"k1": "int64", "k2": "string"})
STORE = Entity("store", {"s": "int64"})


@dataclass(frozen=True)
class FeatureRow:
    keys: tuple[object, ...]
    event: int  # seconds after BASE
    created: int | None
    value: float
    label: str | None


def _at(seconds: int) -> datetime:
    return BASE + timedelta(seconds=seconds)


def feature_rows(
    key_strategy: st.SearchStrategy[tuple[object, ...]], created: bool
) -> st.SearchStrategy[list[FeatureRow]]:
    row = st.builds(
        lambda keys, event, delay, label: (keys, event, (event + delay) if created else None, label),
        key_strategy,
        st.integers(0, 12),
        st.integers(0, 4),
        st.one_of(st.none(), st.sampled_from(["a", "b", "c"])),
    )

    def build(raw: list[tuple[tuple[object, ...], int, int | None, str | None]]) -> list[FeatureRow]:
        # A tie on every ordering column would be ambiguous: keep one of each (keys, event, created).
        seen: set[tuple[object, ...]] = set()
        out = []
        for i, (keys, event, created_at, label) in enumerate(raw):
            identity = (keys, event, created_at)
            if identity in seen:
                continue
            seen.add(identity)
            out.append(FeatureRow(keys, event, created_at, float(i), label))
        return out

    return st.lists(row, max_size=40).map(build)


composite_keys = st.tuples(st.integers(0, 3), st.sampled_from(["x", "y"]))
single_keys = st.tuples(st.integers(0, 3))


def oracle(
    rows: list[FeatureRow], keys: tuple[object, ...], t: int, ttl: int | None, respect: bool
) -> FeatureRow | None:
    best: FeatureRow | None = None
    for r in rows:
        if r.keys != keys or r.event > t:
            continue
        if ttl is not None and r.event < t - ttl:
            continue
        if respect and r.created is not None and r.created > t:
            continue
        if best is None or (r.event, r.created or 0) > (best.event, best.created or 0):
            best = r
    return best


def _write(rows: list[FeatureRow], key_names: tuple[str, ...], path: Path, created: bool) -> None:
    columns: dict[str, pd.Series] = {}
    for i, k in enumerate(key_names):
        columns[k] = pd.Series([r.keys[i] for r in rows], dtype="object" if k == "k2" else "int64")
    # Naive event times (taken as UTC), tz-aware created times: both flavours are read.
    columns["ts"] = pd.Series([_at(r.event).replace(tzinfo=None) for r in rows], dtype="datetime64[us]")
    if created:
        columns["created"] = pd.Series([_at(r.created or 0) for r in rows], dtype="datetime64[us, UTC]")
    columns["value"] = pd.Series([r.value for r in rows], dtype="float64")
    columns["label"] = pd.Series([r.label for r in rows], dtype="object")
    pd.DataFrame(columns).to_parquet(path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    customer_rows=feature_rows(composite_keys, created=True),
    store_rows=feature_rows(single_keys, created=False),
    entities=st.lists(
        st.tuples(st.integers(0, 4), st.sampled_from(["x", "y"]), st.integers(0, 4), st.integers(-1, 16)),
        min_size=1,
        max_size=25,
    ),
    customer_ttl=st.sampled_from([None, 1, 3]),
    store_ttl=st.sampled_from([None, 2]),
    respect=st.booleans(),
    aware=st.booleans(),
)
def test_historical_matches_the_oracle(
    customer_rows: list[FeatureRow],
    store_rows: list[FeatureRow],
    entities: list[tuple[int, str, int, int]],
    customer_ttl: int | None,
    store_ttl: int | None,
    respect: bool,
    aware: bool,
) -> None:
    # Entity rows exactly at a row's TTL edge and at its created time, where off-by-one errors hide.
    for r in customer_rows[:10]:
        k1, k2 = r.keys
        entities = [
            *entities,
            (cast(int, k1), str(k2), 0, r.event + (customer_ttl or 0)),
            (cast(int, k1), str(k2), 0, r.created or 0),
        ]
    for r in store_rows[:10]:
        entities = [*entities, (9, "x", cast(int, r.keys[0]), r.event + (store_ttl or 0))]
    with tempfile.TemporaryDirectory() as tmp:
        _write(customer_rows, ("k1", "k2"), Path(tmp) / "customer.parquet", created=True)
        _write(store_rows, ("s",), Path(tmp) / "store.parquet", created=False)
        customer_view = FeatureView(
            "customer_stats",
            entities=[CUSTOMER],
            features={"value": "float64", "label": "string"},
            source=FileSource("customer_src", str(Path(tmp) / "customer.parquet")),
            timestamp_field="ts",
            created_timestamp_field="created",
            ttl=None if customer_ttl is None else timedelta(seconds=customer_ttl),
        )
        store_view = FeatureView(
            "store_stats",
            entities=[STORE],
            features={"value": "float64", "label": "string"},
            source=FileSource("store_src", str(Path(tmp) / "store.parquet")),
            timestamp_field="ts",
            ttl=None if store_ttl is None else timedelta(seconds=store_ttl),
        )
        resolved = ResolvedFeatures(
            views=(
                ViewSelection(customer_view, 1, ("value", "label")),
                ViewSelection(store_view, 1, ("value", "label")),
            ),
            on_demand=(),
            output_columns=(
                "customer_stats__value",
                "customer_stats__label",
                "store_stats__value",
                "store_stats__label",
            ),
            entity_columns=("k1", "k2", "s"),
            request_columns=(),
            full_feature_names=True,
        )
        times = [_at(t) for *_, t in entities]
        entity_df = pd.DataFrame(
            {
                "k1": [e[0] for e in entities],
                "k2": [e[1] for e in entities],
                "s": [e[2] for e in entities],
                "event_timestamp": pd.to_datetime(times).tz_convert("Europe/Paris")
                if aware
                else pd.to_datetime([t.replace(tzinfo=None) for t in times]),
                "extra": list(range(len(entities))),
            }
        )
        result = (
            OfflineStore(artifacts=MemoryArtifactStore())
            .historical(entity_df, resolved, respect_created_timestamp=respect)
            .to_pylist()
        )

    assert len(result) == len(entities)
    for i, ((k1, k2, s, t), got) in enumerate(zip(entities, result, strict=True)):
        assert got["extra"] == i, "entity rows come back in input order with their extra columns"
        want_c = oracle(customer_rows, (k1, k2), t, customer_ttl, respect)
        want_s = oracle(store_rows, (s,), t, store_ttl, respect)
        assert got["customer_stats__value"] == (None if want_c is None else want_c.value), (k1, k2, t)
        assert got["customer_stats__label"] == (None if want_c is None else want_c.label)
        assert got["store_stats__value"] == (None if want_s is None else want_s.value), (s, t)
        assert got["store_stats__label"] == (None if want_s is None else want_s.label)


def test_ttl_edge_is_inclusive_and_late_rows_are_invisible() -> None:
    """Exactly ``T - ttl`` is in; a row created after ``T`` is out unless the option is off."""
    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            FeatureRow((1,), 0, 0, 1.0, "old"),
            FeatureRow((2,), 5, 8, 2.0, "late"),
            FeatureRow((2,), 5, 4, 3.0, "early"),
            FeatureRow((2,), 6, 20, 4.0, "backfill"),
        ]
        path = Path(tmp) / "f.parquet"
        _write(rows, ("s",), path, created=True)
        view = FeatureView(
            "v",
            entities=[STORE],
            features={"value": "float64"},
            source=FileSource("src", str(path)),
            timestamp_field="ts",
            created_timestamp_field="created",
            ttl=timedelta(seconds=3),
        )
        resolved = ResolvedFeatures(
            views=(ViewSelection(view, 1, ("value",)),),
            on_demand=(),
            output_columns=("value",),
            entity_columns=("s",),
            request_columns=(),
        )
        entity_df = pd.DataFrame(
            {"s": [1, 1, 2, 2, 2], "event_timestamp": [_at(3), _at(4), _at(7), _at(8), _at(25)]}
        )
        store = OfflineStore(artifacts=MemoryArtifactStore())
        respected = store.historical(entity_df, resolved).column("value").to_pylist()
        ignored = (
            store.historical(entity_df, resolved, respect_created_timestamp=False).column("value").to_pylist()
        )
    # T=3, ttl 3: event 0 == T - ttl is included; T=4: excluded.
    # T=7: the row at 5 created at 8 and the one at 6 created at 20 are not visible yet -> "early".
    # T=8: the tie at event 5 goes to the larger created time, now visible.
    # T=25: the backfilled row (event 6) is visible, but 25 - 3 > 6: outside the TTL.
    assert respected == [1.0, None, 3.0, 2.0, None]
    assert ignored == [1.0, None, 4.0, 4.0, None]
