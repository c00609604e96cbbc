"""Where a saved training dataset came from: the feature view versions it joined and the source
files or tables (with their fingerprints) each view read. Looked up by the dataset's digest, which
is how tracking knows it once a run logs it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, select

from shipyard.features.tables import TrainingDatasetRow
from shipyard.storage.metadata.base import table

datasets_t = table(TrainingDatasetRow)


@dataclass(frozen=True)
class SourceFile:
    path: str
    fingerprint: str  # ``etag:…`` on S3, ``size:…;mtime_ns:…`` for local files
    view: str | None  # the view that read it (None for datasets saved before this was recorded)


@dataclass(frozen=True)
class DatasetOrigin:
    """A training dataset version and what it was built from."""

    digest: str
    name: str
    version: int
    feature_service: str | None
    feature_views: dict[str, int]  # view name -> version
    sources: tuple[SourceFile, ...]


def origins(conn: Connection, digests: Iterable[str]) -> list[DatasetOrigin]:
    """The training datasets among ``digests`` (newest version first when a digest repeats)."""
    wanted = set(digests)
    if not wanted:
        return []
    rows = conn.execute(
        select(datasets_t).where(datasets_t.c.digest.in_(wanted)).order_by(datasets_t.c.version.desc())
    )
    seen: set[str] = set()
    out = []
    for row in rows:
        if row.digest in seen:
            continue
        seen.add(row.digest)
        out.append(
            DatasetOrigin(
                digest=row.digest,
                name=row.name,
                version=row.version,
                feature_service=row.feature_service,
                feature_views={str(k): int(v) for k, v in row.feature_versions.items()},
                sources=tuple(
                    SourceFile(str(f[0]), str(f[1]), str(f[2]) if len(f) > 2 else None)
                    for f in row.source_files
                ),
            )
        )
    return out
