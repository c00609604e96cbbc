"""The offline store reading S3 sources through s3fs registered in DuckDB (no extension download),
against a real S3-compatible server (moto), and push parts kept in an S3 artifact store."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import boto3
import pandas as pd
import pytest

from shipyard.errors import InvalidInput
from shipyard.features.model import Entity, FeatureView, FileSource, PushSource
from shipyard.features.offline import OfflineStore
from shipyard.features.selection import ResolvedFeatures, ViewSelection
from shipyard.storage.artifacts.memory import MemoryArtifactStore
from shipyard.storage.artifacts.s3 import S3ArtifactStore

T0 = datetime(2024, 5, 1, tzinfo=UTC)
DAY = timedelta(days=1)
CUSTOMER = Entity("customer", {"customer_id": "int64"})


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "event_timestamp": [T0, T0 + DAY, T0],
            "spend": [1.0, 2.0, 3.0],
        }
    )


def _upload(endpoint: str, bucket: str, key: str, frame: pd.DataFrame) -> None:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    boto3.client("s3", endpoint_url=endpoint).put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())


def _resolved(view: FeatureView) -> ResolvedFeatures:
    return ResolvedFeatures(
        views=(ViewSelection(view, 1, ("spend",)),),
        on_demand=(),
        output_columns=("spend",),
        entity_columns=("customer_id",),
        request_columns=(),
    )


ENTITIES = pd.DataFrame({"customer_id": [1, 2, 1, 3], "event_timestamp": [T0 + 2 * DAY, T0, T0, T0]})


@pytest.mark.parametrize("layout", ["file", "folder", "hive", "glob"])
def test_s3_file_sources(s3_server: str, s3_bucket: str, layout: str) -> None:
    frame = _frame()
    if layout == "file":
        _upload(s3_server, s3_bucket, "stats.parquet", frame)
        path = f"s3://{s3_bucket}/stats.parquet"
    elif layout == "hive":
        _upload(s3_server, s3_bucket, "stats/region=eu/a.parquet", frame.iloc[:2])
        _upload(s3_server, s3_bucket, "stats/region=us/b.parquet", frame.iloc[2:])
        path = f"s3://{s3_bucket}/stats"
    else:
        _upload(s3_server, s3_bucket, "stats/a.parquet", frame.iloc[:2])
        _upload(s3_server, s3_bucket, "stats/b.parquet", frame.iloc[2:])
        path = f"s3://{s3_bucket}/stats" + ("/*.parquet" if layout == "glob" else "")
    view = FeatureView(
        "stats", entities=[CUSTOMER], features={"spend": "float64"}, source=FileSource("src", path)
    )
    store = OfflineStore(artifacts=MemoryArtifactStore(), s3_endpoint_url=s3_server)
    out = store.historical(ENTITIES, _resolved(view))
    assert out.column("spend").to_pylist() == [2.0, 3.0, 1.0, None]
    files = store.source_files(view)
    assert files and all(
        p.startswith(f"s3://{s3_bucket}/") and fp.startswith("etag:") and len(fp) > 5 for p, fp in files
    )
    assert len(files) == (1 if layout == "file" else 2)


def test_missing_s3_object_is_a_clear_error(s3_server: str, s3_bucket: str) -> None:
    view = FeatureView(
        "stats",
        entities=[CUSTOMER],
        features={"spend": "float64"},
        source=FileSource("src", f"s3://{s3_bucket}/nothing-here.parquet"),
    )
    store = OfflineStore(artifacts=MemoryArtifactStore(), s3_endpoint_url=s3_server)
    with pytest.raises(InvalidInput, match="feature view 'stats'"):
        store.schema(view)


def test_push_parts_in_an_s3_artifact_store(s3_server: str, s3_bucket: str) -> None:
    artifacts = S3ArtifactStore(s3_bucket, "shipyard", endpoint_url=s3_server)
    source = PushSource(
        "clicks", {"customer_id": "int64", "event_timestamp": "timestamp", "spend": "float64"}
    )
    view = FeatureView("stats", entities=[CUSTOMER], features={"spend": "float64"}, source=source)
    store = OfflineStore(artifacts=artifacts, s3_endpoint_url=s3_server)
    assert store.append_push(source, _frame()) == 3
    assert store.historical(ENTITIES, _resolved(view)).column("spend").to_pylist() == [2.0, 3.0, 1.0, None]
    assert [k for k in artifacts.list("features/push/clicks/")] and len(store.source_files(view)) == 1
