"""Training datasets: a point-in-time frame saved as Parquet in the content store, with lineage to
the feature view versions and source files it was built from.

``name`` gets versions 1, 2, 3 …; a version never changes. The file is stored (content-addressed,
verified on read) before the row that points at it is written, so no row names a missing file.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from shipyard.core.ids import new_id
from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.features.model import TrainingDataset, check_name
from shipyard.features.tables import TrainingDatasetRow
from shipyard.storage.artifacts import ContentStore
from shipyard.storage.artifacts.content import blob_key
from shipyard.storage.metadata.base import table
from shipyard.storage.metadata.database import Database

datasets_t = table(TrainingDatasetRow)


def as_arrow(data: pd.DataFrame | pa.Table, what: str) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise InvalidInput(
        f"{what} must be a pandas DataFrame or a pyarrow Table, got {type(data).__name__}", field=what
    )


def table_digest(data: pa.Table) -> str:
    """Digest of a table's Arrow IPC stream: equal for equal schema and values."""
    h = hashlib.sha256()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write_table(data)
    h.update(sink.getvalue().to_pybytes())
    return "sha256:" + h.hexdigest()


def _dataset(row: Any, location: str) -> TrainingDataset:
    return TrainingDataset(
        id=row.id,
        name=row.name,
        version=row.version,
        digest=row.digest,
        location=location,
        schema=tuple((str(c[0]), str(c[1])) for c in row.schema),
        num_rows=row.num_rows,
        entity_df_digest=row.entity_df_digest,
        feature_versions={str(k): int(v) for k, v in row.feature_versions.items()},
        features=tuple(row.features),
        feature_service=row.feature_service,
        source_files=tuple((str(f[0]), str(f[1])) for f in row.source_files),
        options=dict(row.options or {}),
        created_at=row.created_at,
        created_by=row.created_by,
    )


class TrainingDatasets:
    """Saving and reading training datasets."""

    def __init__(self, db: Database, content: ContentStore) -> None:
        self.db = db
        self.content = content

    def location(self, digest: str) -> str:
        return f"{self.content.store.uri.rstrip('/')}/{blob_key(digest)}"

    def save(
        self,
        name: str,
        data: pd.DataFrame | pa.Table,
        *,
        entity_df: pd.DataFrame | pa.Table,
        feature_versions: Mapping[str, int],
        features: Sequence[str],
        feature_service: str | None,
        source_files: Sequence[tuple[str, ...]],
        options: Mapping[str, Any],
        actor: str,
        now: int,
    ) -> TrainingDataset:
        check_name("training dataset", name)
        frame = as_arrow(data, "data")
        entity_digest = table_digest(as_arrow(entity_df, "entity_df"))
        with tempfile.TemporaryDirectory(prefix="shipyard-dataset-") as folder:
            path = Path(folder) / f"{name}.parquet"
            pq.write_table(frame, path)
            blob = self.content.put_file(path)
        values = {
            "name": name,
            "digest": blob.digest,
            "schema": [[f.name, str(f.type)] for f in frame.schema],
            "num_rows": frame.num_rows,
            "entity_df_digest": entity_digest,
            "feature_versions": dict(feature_versions),
            "features": list(features),
            "feature_service": feature_service,
            "source_files": [list(p) for p in source_files],
            "options": dict(options),
            "created_at": now,
            "created_by": actor,
        }
        try:
            with self.db.write() as conn:
                latest = conn.execute(
                    select(func.max(datasets_t.c.version)).where(datasets_t.c.name == name)
                ).scalar()
                version = int(latest or 0) + 1
                conn.execute(datasets_t.insert().values(id=new_id(), version=version, **values))
                row = _get(conn, name, version)
        except IntegrityError:
            raise Conflict(
                f"training dataset {name!r} was saved concurrently; save it again", field="name"
            ) from None
        return _dataset(row, self.location(row.digest))

    def get(self, name: str, version: int | None = None) -> TrainingDataset:
        with self.db.read() as conn:
            if version is None:
                version = conn.execute(
                    select(func.max(datasets_t.c.version)).where(datasets_t.c.name == name)
                ).scalar()
                if version is None:
                    raise NotFound(f"no training dataset named {name!r}", field="name")
            row = _get(conn, name, version)
        return _dataset(row, self.location(row.digest))

    def list(self, name: str | None = None) -> list[TrainingDataset]:
        query = select(datasets_t).order_by(datasets_t.c.name, datasets_t.c.version)
        if name is not None:
            query = query.where(datasets_t.c.name == name)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [_dataset(r, self.location(r.digest)) for r in rows]

    def read(self, dataset: TrainingDataset) -> pa.Table:
        """The saved frame, verified against its digest."""
        with tempfile.TemporaryDirectory(prefix="shipyard-dataset-") as folder:
            path = self.content.get_file(dataset.digest, Path(folder) / "data.parquet")
            return pq.read_table(path)


def _get(conn: Connection, name: str, version: int) -> Any:
    row = conn.execute(
        select(datasets_t).where(datasets_t.c.name == name, datasets_t.c.version == version)
    ).first()
    if row is None:
        raise NotFound(f"training dataset {name!r} has no version {version}", field="version")
    return row
