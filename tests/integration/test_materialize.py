"""Materialization from a real offline store (DuckDB over Parquet) into SQLite and Redis online
stores, with the run records and watermarks in a real metadata database: newest value per key,
idempotent re-runs, resume after an injected failure and after a SIGKILL."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from shipyard.features import materialize as mat
from shipyard.features.materialize import materialize, materialize_incremental
from shipyard.features.model import Entity, FeatureView, FileSource
from shipyard.features.offline import OfflineStore
from shipyard.features.online import namespace
from shipyard.features.online.codec import ValueCodec
from shipyard.features.online.keys import KeyEncoder
from shipyard.features.selection import ViewSelection
from shipyard.features.tables import FeatureMaterializationRow, FeatureWatermarkRow
from shipyard.migrations import runner
from shipyard.storage.artifacts.memory import MemoryArtifactStore
from shipyard.storage.kv import OnlineStore
from shipyard.storage.kv.redis import RedisOnlineStore
from shipyard.storage.kv.sqlite import SqliteOnlineStore
from shipyard.storage.metadata.base import table
from shipyard.storage.metadata.database import Database
from support.databases import drop_redis_prefix, fresh_postgres_database, new_redis_prefix, redis_server_url

T0 = datetime(2026, 3, 1, tzinfo=UTC)
ENTITIES = 300
STEPS = 12
driver = Entity("driver", {"driver_id": "int64"})


def _selection(folder: Path, *, online: bool = True, version: int = 1) -> ViewSelection:
    """Every feature of ``version`` of the ``driver_stats`` view over the Parquet files in ``folder``."""
    view = FeatureView(
        "driver_stats",
        entities=[driver],
        features={"rate": "float64", "trips": "int64", "city": "string"},
        source=FileSource("driver_stats_src", str(folder / "*.parquet")),
        online=online,
    )
    return ViewSelection(view, version, view.feature_names)


def _write_part(folder: Path, name: str, hours: range, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = ENTITIES * len(hours)
    frame = pd.DataFrame(
        {
            "driver_id": np.tile(np.arange(ENTITIES, dtype=np.int64), len(hours)),
            "event_timestamp": np.repeat([T0 + timedelta(hours=h) for h in hours], ENTITIES),
            "rate": rng.random(n),
            "trips": rng.integers(0, 1_000, n),
            "city": rng.choice(["Paris", "Zürich", "東京", None], n),
        }
    )
    frame = frame.sample(frac=1.0, random_state=seed)  # the source is in no particular order
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / f"{name}.parquet")
    return frame


def _expected(frame: pd.DataFrame, start: datetime, end: datetime) -> dict[int, tuple[object, ...]]:
    """Brute force: the newest row per driver with start <= ts < end."""
    window = frame[(frame.event_timestamp >= start) & (frame.event_timestamp < end)]
    newest = window.sort_values("event_timestamp").groupby("driver_id").tail(1)
    return {
        int(r.driver_id): (
            float(r.rate),
            int(r.trips),
            None if pd.isna(r.city) else str(r.city),
            r.event_timestamp,
        )
        for r in newest.itertuples()
    }


def _online_state(online: OnlineStore, selection: ViewSelection) -> dict[int, tuple[object, ...]]:
    keys = KeyEncoder(selection.view.join_keys)
    codec = ValueCodec(selection.view.features)
    found = online.read(
        namespace(selection.view, selection.version), [keys.encode({"driver_id": i}) for i in range(ENTITIES)]
    )
    state = {}
    for i, hit in enumerate(found):
        if hit is not None:
            value, ts = hit
            state[i] = (*codec.decode(value), datetime.fromtimestamp(ts / 1000, tz=UTC))
    return state


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The metadata database holding run records and watermarks."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'meta.db'}"
        else:
            url = stack.enter_context(fresh_postgres_database())
        database = Database(url)
        runner.upgrade(database)
        yield database
        database.dispose()


@pytest.fixture
def offline() -> OfflineStore:
    return OfflineStore(artifacts=MemoryArtifactStore(), memory_limit="1GB")


@pytest.fixture(params=["sqlite", "redis"])
def online(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    if request.param == "sqlite":
        store = SqliteOnlineStore(tmp_path / "online.db")
        yield store
        store.close()
        return
    url, prefix = redis_server_url(), new_redis_prefix()
    redis_store = RedisOnlineStore(url, prefix=prefix)
    yield redis_store
    redis_store.close()
    drop_redis_prefix(url, prefix)


def _runs(db: Database) -> list[dict[str, object]]:
    rows = table(FeatureMaterializationRow)
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(select(rows).order_by(rows.c.started_at))]


def _watermark(db: Database, view: str = "driver_stats") -> tuple[int, datetime] | None:
    marks = table(FeatureWatermarkRow)
    with db.read() as conn:
        row = conn.execute(select(marks).where(marks.c.view_name == view)).first()
    return (
        None if row is None else (row.view_version, datetime.fromtimestamp(row.watermark_ms / 1000, tz=UTC))
    )


def test_a_window_writes_the_newest_row_per_key(
    db: Database, offline: OfflineStore, online: OnlineStore, tmp_path: Path
) -> None:
    frame = _write_part(tmp_path / "src", "a", range(STEPS), seed=1)
    selection = _selection(tmp_path / "src")
    start, end = T0 + timedelta(hours=2), T0 + timedelta(hours=7)
    seen: list[tuple[str, int, int | None]] = []
    [result] = materialize(db, offline, online, [selection], start, end, progress=lambda *a: seen.append(a))
    assert result.status == "succeeded" and result.rows_read == ENTITIES and result.keys_written == ENTITIES
    assert _online_state(online, selection) == _expected(frame, start, end)
    [run] = _runs(db)
    assert (run["status"], run["rows_read"], run["keys_written"], run["view_version"]) == (
        "succeeded",
        ENTITIES,
        ENTITIES,
        1,
    )
    assert run["finished_at"] is not None and run["id"] == result.id
    assert _watermark(db) == (1, end)
    assert seen[0] == ("driver_stats", 0, None) and seen[-1] == ("driver_stats", ENTITIES, ENTITIES)


def test_re_runs_and_older_windows_never_change_the_newest_values(
    db: Database, offline: OfflineStore, online: OnlineStore, tmp_path: Path
) -> None:
    frame = _write_part(tmp_path / "src", "a", range(STEPS), seed=2)
    selection = _selection(tmp_path / "src")
    end = T0 + timedelta(hours=STEPS)
    materialize(db, offline, online, [selection], T0, end)
    state = _online_state(online, selection)
    assert state == _expected(frame, T0, end)
    materialize(db, offline, online, [selection], T0, end)  # the same window again
    materialize(db, offline, online, [selection], T0, T0 + timedelta(hours=3))  # an older window
    assert _online_state(online, selection) == state
    assert [r["status"] for r in _runs(db)] == ["succeeded"] * 3
    assert _watermark(db) == (1, end)  # an older window does not move it back


def test_incremental_runs_continue_from_the_watermark(
    db: Database, offline: OfflineStore, online: OnlineStore, tmp_path: Path
) -> None:
    first = _write_part(tmp_path / "src", "a", range(6), seed=3)
    selection = _selection(tmp_path / "src")
    end1 = T0 + timedelta(hours=6)
    [r1] = materialize_incremental(db, offline, online, [selection], end1)
    assert r1.start == mat.BEGINNING and r1.rows_read == ENTITIES
    assert _watermark(db) == (1, end1)
    second = _write_part(tmp_path / "src", "b", range(6, STEPS), seed=4)
    end2 = T0 + timedelta(hours=STEPS)
    [r2] = materialize_incremental(db, offline, online, [selection], end2)
    assert (r2.start, r2.end, r2.status) == (end1, end2, "succeeded")
    assert _online_state(online, selection) == _expected(pd.concat([first, second]), T0, end2)
    [r3] = materialize_incremental(db, offline, online, [selection], end2)
    assert (r3.status, r3.id, r3.rows_read) == ("skipped", "", 0)
    assert len(_runs(db)) == 2
    # a new version of the view starts again from the beginning, in its own namespace
    [r4] = materialize_incremental(db, offline, online, [_selection(tmp_path / "src", version=2)], end2)
    assert r4.start == mat.BEGINNING and _watermark(db) == (2, end2)


def test_offline_only_views_are_not_materialized(
    db: Database, offline: OfflineStore, online: OnlineStore, tmp_path: Path
) -> None:
    _write_part(tmp_path / "src", "a", range(2), seed=5)
    selection = _selection(tmp_path / "src", online=False)
    assert materialize(db, offline, online, [selection], T0, T0 + timedelta(days=1)) == []
    assert _runs(db) == []


class _FailingOffline(OfflineStore):
    """Yields the first batch of a window, then fails like a source that went away."""

    def latest_per_entity(self, view, start, end, batch_rows=100_000):  # type: ignore[no-untyped-def]
        for i, batch in enumerate(super().latest_per_entity(view, start, end, batch_rows)):
            if i == 1:
                raise OSError("source disappeared")
            yield batch


def test_a_failed_run_is_recorded_and_the_next_run_redoes_the_window(
    db: Database, online: OnlineStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = _write_part(tmp_path / "src", "a", range(STEPS), seed=6)
    selection = _selection(tmp_path / "src")
    end = T0 + timedelta(hours=STEPS)
    monkeypatch.setattr(mat, "BATCH_ROWS", 64)
    with pytest.raises(OSError, match="source disappeared"):
        materialize_incremental(
            db, _FailingOffline(artifacts=MemoryArtifactStore()), online, [selection], end
        )
    [failed] = _runs(db)
    assert failed["status"] == "failed" and "source disappeared" in str(failed["error"])
    assert failed["rows_read"] == 64 and failed["finished_at"] is not None
    assert len(_online_state(online, selection)) == 64  # half-way
    assert _watermark(db) is None  # not advanced
    [result] = materialize_incremental(
        db, OfflineStore(artifacts=MemoryArtifactStore()), online, [selection], end
    )
    assert result.start == mat.BEGINNING and result.status == "succeeded"
    assert _online_state(online, selection) == _expected(frame, T0, end)
    assert _watermark(db) == (1, end)


_KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import datetime
    from shipyard.features import materialize as mat
    from shipyard.features.model import Entity, FeatureView, FileSource
    from shipyard.features.offline import OfflineStore
    from shipyard.features.selection import ViewSelection
    from shipyard.storage.artifacts.memory import MemoryArtifactStore
    from shipyard.storage.kv import open_online_store
    from shipyard.storage.metadata.database import Database

    db_url, online_url, prefix, folder, end = sys.argv[1:6]
    if online_url.startswith("redis://"):
        from shipyard.storage.kv.redis import RedisOnlineStore

        online = RedisOnlineStore(online_url, prefix=prefix)
    else:
        online = open_online_store(online_url)
    view = FeatureView(
        "driver_stats",
        entities=[Entity("driver", {"driver_id": "int64"})],
        features={"rate": "float64", "trips": "int64", "city": "string"},
        source=FileSource("driver_stats_src", folder + "/*.parquet"),
    )
    mat.BATCH_ROWS = 50

    def progress(view_name, done, total):
        if done >= 100:  # two batches written: die without any chance to clean up
            os.kill(os.getpid(), signal.SIGKILL)

    mat.materialize_incremental(
        Database(db_url), OfflineStore(artifacts=MemoryArtifactStore()), online,
        [ViewSelection(view, 1, view.feature_names)], datetime.fromisoformat(end), progress=progress,
    )
    """
)


def test_a_killed_run_leaves_the_watermark_and_a_re_run_converges(
    db: Database, offline: OfflineStore, online: OnlineStore, tmp_path: Path
) -> None:
    frame = _write_part(tmp_path / "src", "a", range(STEPS), seed=7)
    selection = _selection(tmp_path / "src")
    end = T0 + timedelta(hours=STEPS)
    if isinstance(online, SqliteOnlineStore):
        online_url, prefix = str(online.path), ""
    else:
        assert isinstance(online, RedisOnlineStore)
        online_url, prefix = online.url, online.prefix
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            _KILLED_RUN,
            db.url,
            online_url,
            prefix,
            str(tmp_path / "src"),
            end.isoformat(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    [killed] = _runs(db)
    assert killed["status"] == "running" and killed["finished_at"] is None
    assert 100 <= len(_online_state(online, selection)) < ENTITIES
    assert _watermark(db) is None
    [result] = materialize_incremental(db, offline, online, [selection], end)
    assert result.start == mat.BEGINNING and result.status == "succeeded"
    assert _online_state(online, selection) == _expected(frame, T0, end)
    assert _watermark(db) == (1, end)
