"""Feature store rows. They never leave the domain. Times are epoch milliseconds.

A definition (entity, feature view, on-demand view, feature service, request source) is one
``feature_definitions`` row holding its latest version number and the searchable fields of that
version; every applied change appends an immutable ``feature_definition_versions`` row with the
full spec (JSON) and its digest.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.storage.metadata.base import Base

ID = String(32)
NAME = String(128)
KIND = String(30)
DIGEST = String(71)
SERIAL = BigInteger().with_variant(Integer, "sqlite")


class FeatureDefinitionRow(Base):
    __tablename__ = "feature_definitions"
    __table_args__ = (UniqueConstraint("kind", "name", name="uq_feature_definitions_kind_name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(KIND)
    name: Mapped[str] = mapped_column(NAME, index=True)
    latest_version: Mapped[int]
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(250), default="", index=True)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Entity names of a view (empty for other kinds), for ``list --entity``.
    entities: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: Feature names of the latest version, for search.
    features: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[int]
    updated_at: Mapped[int]


class FeatureDefinitionVersionRow(Base):
    __tablename__ = "feature_definition_versions"
    __table_args__ = (
        UniqueConstraint(
            "definition_id", "version", name="uq_feature_definition_versions_definition_version"
        ),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    definition_id: Mapped[str] = mapped_column(ID, ForeignKey("feature_definitions.id"))
    version: Mapped[int]
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    spec_digest: Mapped[str] = mapped_column(DIGEST)
    created_at: Mapped[int]
    created_by: Mapped[str] = mapped_column(String(250))


class FeatureMaterializationRow(Base):
    __tablename__ = "feature_materializations"
    __table_args__ = (Index("ix_feature_materializations_view", "view_name", "started_at"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    view_name: Mapped[str] = mapped_column(NAME)
    view_version: Mapped[int]
    start_ms: Mapped[int]
    end_ms: Mapped[int]
    rows_read: Mapped[int] = mapped_column(default=0)
    keys_written: Mapped[int] = mapped_column(default=0)
    #: running | succeeded | failed
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[int]
    finished_at: Mapped[int | None]


class FeatureWatermarkRow(Base):
    """Up to where (exclusive, epoch ms) a view has been materialized: the next incremental run
    starts here."""

    __tablename__ = "feature_watermarks"
    view_name: Mapped[str] = mapped_column(NAME, primary_key=True)
    view_version: Mapped[int]
    watermark_ms: Mapped[int]
    updated_at: Mapped[int]


class FeatureStatisticsRow(Base):
    __tablename__ = "feature_statistics"
    __table_args__ = (Index("ix_feature_statistics_view", "view_name", "computed_at"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    view_name: Mapped[str] = mapped_column(NAME)
    view_version: Mapped[int]
    computed_at: Mapped[int]
    materialization_id: Mapped[str | None] = mapped_column(ID, ForeignKey("feature_materializations.id"))
    start_ms: Mapped[int | None]
    end_ms: Mapped[int | None]
    #: ``[FeatureStatistics.to_dict(), ...]``
    stats: Mapped[list[Any]] = mapped_column(JSON)


class TrainingDatasetRow(Base):
    __tablename__ = "training_datasets"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_training_datasets_name_version"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME)
    version: Mapped[int]
    #: Content digest of the Parquet file in the content store.
    digest: Mapped[str] = mapped_column(DIGEST, index=True)
    schema: Mapped[list[Any]] = mapped_column(JSON)
    num_rows: Mapped[int]
    entity_df_digest: Mapped[str] = mapped_column(DIGEST)
    #: ``{"view": version, ...}`` of every view and on-demand view used.
    feature_versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The feature references asked for (``view@version:feature``), in order.
    features: Mapped[list[Any]] = mapped_column(JSON)
    feature_service: Mapped[str | None] = mapped_column(NAME)
    #: ``[[path, fingerprint, view], ...]`` of every source file read (older rows: no view).
    source_files: Mapped[list[Any]] = mapped_column(JSON)
    #: How the frame was built (timestamp column, full feature names, created-timestamp rule).
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[int]
    created_by: Mapped[str] = mapped_column(String(250))
