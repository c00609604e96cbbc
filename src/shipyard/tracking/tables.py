"""Tracking rows. They never leave the domain: the service maps them to :mod:`.model` objects.

Metric series live in ``metrics`` (append-only, one row a point); the newest value of each key is
kept in ``latest_metrics`` so listing and searching runs never scans the series. Times are epoch
milliseconds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.storage.metadata.base import Base

ID = String(32)
KEY = String(250)


class ExperimentRow(Base):
    __tablename__ = "experiments"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(250), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[int]


class EnvironmentRow(Base):
    """Interpreter, platform and packages, stored once per distinct combination."""

    __tablename__ = "environments"
    digest: Mapped[str] = mapped_column(String(71), primary_key=True)
    python_version: Mapped[str] = mapped_column(String(100))
    platform: Mapped[str] = mapped_column(String(250))
    packages: Mapped[dict[str, Any]] = mapped_column(JSON)


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_experiment_start", "experiment_id", "start_time"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    experiment_id: Mapped[str] = mapped_column(ID, ForeignKey("experiments.id"), index=True)
    name: Mapped[str] = mapped_column(String(250))
    status: Mapped[str] = mapped_column(String(20))
    start_time: Mapped[int] = mapped_column(index=True)
    end_time: Mapped[int | None]
    user: Mapped[str] = mapped_column(String(250))
    note: Mapped[str] = mapped_column(Text, default="")
    parent_id: Mapped[str | None] = mapped_column(ID, ForeignKey("runs.id"), index=True)
    environment_digest: Mapped[str | None] = mapped_column(String(71), ForeignKey("environments.digest"))
    command: Mapped[str] = mapped_column(Text, default="")
    git_commit: Mapped[str | None] = mapped_column(String(64))
    git_dirty: Mapped[bool | None]


class ParamRow(Base):
    __tablename__ = "params"
    run_id: Mapped[str] = mapped_column(ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(KEY, primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    #: The value as a number when it parses as one, so ``params.lr > 0.01`` compares numerically.
    value_num: Mapped[float | None] = mapped_column(Float)


class TagRow(Base):
    __tablename__ = "tags"
    run_id: Mapped[str] = mapped_column(ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(KEY, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class MetricRow(Base):
    __tablename__ = "metrics"
    # Every column a history or a chart reads, in the order they sort by: both read the index alone
    # (migration 0013_metric_curve_index). No id column: numbering every point cost a sequence
    # call and a second index per row, a third of the cost of storing a point (0015); the same
    # point may be logged twice, so the mapper's key below is not unique in the table, and rows are
    # only ever read and written through the Core table.
    __table_args__ = (Index("ix_metrics_covering", "run_id", "key", "step", "timestamp", "value"),)
    __mapper_args__ = {"primary_key": ["run_id", "key", "step", "timestamp"]}
    # No foreign key: checked row by row, it doubled the cost of COPY on PostgreSQL. A batch's
    # writer checks (and on PostgreSQL key-share locks) the run once instead (0014).
    run_id: Mapped[str] = mapped_column(ID)
    key: Mapped[str] = mapped_column(KEY)
    value: Mapped[float | None] = mapped_column(Float)  # NULL stores NaN (SQLite has no NaN)
    step: Mapped[int]
    timestamp: Mapped[int]


class LatestMetricRow(Base):
    __tablename__ = "latest_metrics"
    # A search ordered by a metric it filters on walks this index (migration 0010_search_indexes).
    __table_args__ = (Index("ix_latest_metrics_key_value_run", "key", "value", "run_id"),)
    run_id: Mapped[str] = mapped_column(ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(KEY, primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    step: Mapped[int]
    timestamp: Mapped[int]


class MetricBatchRow(Base):
    """Batch ids already stored, so a retried flush is not stored twice."""

    __tablename__ = "metric_batches"
    run_id: Mapped[str] = mapped_column(ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: sha256 of the batch's points, so a batch id reused for other points is refused.
    digest: Mapped[str | None] = mapped_column(String(64), nullable=True)


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("name", "digest", "location", name="uq_datasets_identity"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(250))
    digest: Mapped[str] = mapped_column(String(71), index=True)
    schema: Mapped[list[Any]] = mapped_column(JSON)
    num_rows: Mapped[int | None]
    location: Mapped[str] = mapped_column(Text, default="")
    source_type: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[int]


class RunDatasetRow(Base):
    __tablename__ = "run_datasets"
    run_id: Mapped[str] = mapped_column(ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ID, ForeignKey("datasets.id"), primary_key=True, index=True)
    direction: Mapped[str] = mapped_column(String(10), primary_key=True)
    context: Mapped[str] = mapped_column(String(100), primary_key=True)


class ArtifactRow(Base):
    __tablename__ = "artifacts"
    run_id: Mapped[str] = mapped_column(ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1000), primary_key=True)
    digest: Mapped[str] = mapped_column(String(71), index=True)
    size: Mapped[int]
    created_at: Mapped[int]
