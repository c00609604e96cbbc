"""New-data triggers on an S3-compatible store (a moto server) and on DuckDB tables: the first look
sets the watermark, new objects, partitions or rows fire once, nothing new fires nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import duckdb
import pytest

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.pipelines.triggers.event_feed import EventLogFeed
from shipyard.pipelines.triggers.ports import MemoryLauncher
from shipyard.pipelines.triggers.scheduler import Scheduler
from shipyard.pipelines.triggers.service import TriggerService
from support.databases import seed_embedded_home


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = build_app(load_settings(home=seed_embedded_home(tmp_path / "home")))
    yield app
    app.close()


@pytest.fixture
def launcher() -> MemoryLauncher:
    return MemoryLauncher(pipelines={"train"})


@pytest.fixture
def triggers(app: App, launcher: MemoryLauncher) -> TriggerService:
    return TriggerService(app.db, launcher, pipelines=launcher, events=EventLogFeed(app.events))


def _scheduler(app: App, launcher: MemoryLauncher, endpoint: str | None = None) -> Scheduler:
    options = {"s3": {"client_kwargs": {"endpoint_url": endpoint}}} if endpoint else {}
    return Scheduler(app.db, launcher, storage_options=options)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def next(self) -> datetime:
        self.now += timedelta(seconds=2)  # past the trigger's poll interval
        return self.now


def test_an_s3_glob_fires_once_per_change(
    app: App, triggers: TriggerService, launcher: MemoryLauncher, s3_server: str, s3_bucket: str
) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_server)
    s3.put_object(Bucket=s3_bucket, Key="events/old.parquet", Body=b"old")
    spec = {"source": "files", "path": f"s3://{s3_bucket}/events/*.parquet", "poll_seconds": 1}
    triggers.create("s3-files", "train", "new_data", spec, actor="ana")
    scheduler, clock = _scheduler(app, launcher, s3_server), Clock()
    assert scheduler.tick(clock.now).recorded == 0  # the first look sets the watermark
    s3.put_object(Bucket=s3_bucket, Key="events/new.parquet", Body=b"new")
    s3.put_object(Bucket=s3_bucket, Key="events/notes.txt", Body=b"not matched")
    scheduler.tick(clock.next())
    scheduler.tick(clock.next())
    assert len(launcher.runs) == 1
    assert [f.detail["files"] for f in triggers.firings("s3-files")] == [2]
    s3.put_object(Bucket=s3_bucket, Key="events/new.parquet", Body=b"NEW")  # same size: the ETag tells
    report = scheduler.tick(clock.next())
    assert report.errors == [] and len(launcher.runs) == 2
    s3.put_object(Bucket=s3_bucket, Key="other/x.parquet", Body=b"elsewhere")
    scheduler.tick(clock.next())
    assert len(launcher.runs) == 2


def test_s3_partitions_fire_once_each(
    app: App, triggers: TriggerService, launcher: MemoryLauncher, s3_server: str, s3_bucket: str
) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_server)
    s3.put_object(Bucket=s3_bucket, Key="activity/month=2024-03/part-0.parquet", Body=b"x")
    spec = {"source": "partitions", "path": f"s3://{s3_bucket}/activity", "poll_seconds": 1}
    triggers.create("s3-parts", "train", "new_data", spec, actor="ana")
    scheduler, clock = _scheduler(app, launcher, s3_server), Clock()
    scheduler.tick(clock.now)
    for month in ("2024-04", "2024-05"):
        s3.put_object(Bucket=s3_bucket, Key=f"activity/month={month}/part-0.parquet", Body=b"x")
    s3.put_object(Bucket=s3_bucket, Key="activity/_tmp/part-0.parquet", Body=b"x")  # not a partition
    scheduler.tick(clock.next())
    scheduler.tick(clock.next())
    assert [f.detail["partition"] for f in reversed(triggers.firings("s3-parts"))] == [
        "month=2024-04",
        "month=2024-05",
    ]
    assert len(launcher.runs) == 2


def test_new_rows_in_a_duckdb_table_fire_past_the_watermark(
    app: App, triggers: TriggerService, launcher: MemoryLauncher, tmp_path: Path
) -> None:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA sales")
        con.execute("CREATE TABLE sales.orders (id INTEGER, ts TIMESTAMP)")
        con.execute("INSERT INTO sales.orders VALUES (1, TIMESTAMP '2024-04-30 10:00:00')")
    url = f"duckdb:///{path}"  # an absolute path: duckdb:////tmp/…
    spec = {"source": "table", "url": url, "table": "sales.orders", "column": "ts", "poll_seconds": 1}
    triggers.create("orders", "train", "new_data", spec, actor="ana")
    counted = {"source": "table", "url": url, "table": "sales.orders", "poll_seconds": 1}
    triggers.create("order-count", "train", "new_data", counted, actor="ana")
    scheduler, clock = _scheduler(app, launcher), Clock()
    assert scheduler.tick(clock.now).errors == []
    with duckdb.connect(str(path)) as con:  # the writer closes: the next look opens it read-only
        con.execute("INSERT INTO sales.orders VALUES (2, TIMESTAMP '2024-05-01 09:00:00')")
    scheduler.tick(clock.next())
    scheduler.tick(clock.next())
    with duckdb.connect(str(path)) as con:  # a late row: more rows, but not past the max
        con.execute("INSERT INTO sales.orders VALUES (3, TIMESTAMP '2024-04-01 00:00:00')")
    scheduler.tick(clock.next())
    assert [f.detail["max"] for f in triggers.firings("orders")] == ["2024-05-01T09:00:00"]
    assert [f.detail["rows"] for f in reversed(triggers.firings("order-count"))] == ["2", "3"]
    assert len(launcher.runs) == 3


def test_an_unreadable_duckdb_source_is_reported_and_looked_at_again(
    app: App, triggers: TriggerService, launcher: MemoryLauncher, tmp_path: Path
) -> None:
    path = tmp_path / "later.duckdb"
    spec = {"source": "table", "url": f"duckdb:///{path}", "table": "orders", "poll_seconds": 1}
    triggers.create("later", "train", "new_data", spec, actor="ana")
    scheduler, clock = _scheduler(app, launcher), Clock()
    report = scheduler.tick(clock.now)
    assert len(report.errors) == 1 and "later" in report.errors[0] and "later.duckdb" in report.errors[0]
    assert not path.exists()  # looking did not create the file
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE orders (id INTEGER)")
    assert scheduler.tick(clock.next()).errors == []  # the watermark is set now
    with duckdb.connect(str(path)) as con:
        con.execute("INSERT INTO orders VALUES (1)")
    scheduler.tick(clock.next())
    assert len(launcher.runs) == 1


def test_a_feature_view_over_a_duckdb_table_is_watched_on_its_timestamp(
    app: App, launcher: MemoryLauncher, tmp_path: Path
) -> None:
    from shipyard.features.model import Entity, FeatureView, Field, SqlSource

    path = tmp_path / "features.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE trips (driver_id BIGINT, event_timestamp TIMESTAMP, trips BIGINT)")
        con.execute("INSERT INTO trips VALUES (1, TIMESTAMP '2024-05-01 00:00:00', 3)")
    driver = Entity("driver", {"driver_id": "int64"})
    view = FeatureView(
        "driver_trips",
        entities=[driver],
        features=[Field("trips", "int64")],
        source=SqlSource("trips_table", f"duckdb:///{path}", table="trips"),
    )
    app.features.apply([driver, view], actor="ana")
    app.pipeline_launcher = launcher
    spec = {"source": "feature_view", "view": "driver_trips", "poll_seconds": 1}
    app.triggers.create("fresh-trips", "train", "new_data", spec, actor="ana")
    scheduler, clock = app.scheduler(), Clock()
    assert scheduler.tick(clock.now).errors == []
    with duckdb.connect(str(path)) as con:
        con.execute("INSERT INTO trips VALUES (1, TIMESTAMP '2024-05-02 00:00:00', 5)")
    scheduler.tick(clock.next())
    assert [f.detail["max"] for f in app.triggers.firings("fresh-trips")] == ["2024-05-02T00:00:00"]
