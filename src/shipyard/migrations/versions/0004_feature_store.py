"""feature store

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feature_definitions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("latest_version", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=250), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_definitions")),
        sa.UniqueConstraint("kind", "name", name="uq_feature_definitions_kind_name"),
    )
    with op.batch_alter_table("feature_definitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feature_definitions_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_feature_definitions_owner"), ["owner"], unique=False)

    op.create_table(
        "feature_materializations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("view_name", sa.String(length=128), nullable=False),
        sa.Column("view_version", sa.BigInteger(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("rows_read", sa.BigInteger(), nullable=False),
        sa.Column("keys_written", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_materializations")),
    )
    with op.batch_alter_table("feature_materializations", schema=None) as batch_op:
        batch_op.create_index("ix_feature_materializations_view", ["view_name", "started_at"], unique=False)

    op.create_table(
        "feature_watermarks",
        sa.Column("view_name", sa.String(length=128), nullable=False),
        sa.Column("view_version", sa.BigInteger(), nullable=False),
        sa.Column("watermark_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("view_name", name=op.f("pk_feature_watermarks")),
    )
    op.create_table(
        "training_datasets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(length=71), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=False),
        sa.Column("num_rows", sa.BigInteger(), nullable=False),
        sa.Column("entity_df_digest", sa.String(length=71), nullable=False),
        sa.Column("feature_versions", sa.JSON(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("feature_service", sa.String(length=128), nullable=True),
        sa.Column("source_files", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_datasets")),
        sa.UniqueConstraint("name", "version", name="uq_training_datasets_name_version"),
    )
    with op.batch_alter_table("training_datasets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_training_datasets_digest"), ["digest"], unique=False)

    op.create_table(
        "feature_definition_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("definition_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("spec_digest", sa.String(length=71), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["feature_definitions.id"],
            name=op.f("fk_feature_definition_versions_definition_id_feature_definitions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_definition_versions")),
        sa.UniqueConstraint(
            "definition_id", "version", name="uq_feature_definition_versions_definition_version"
        ),
    )
    op.create_table(
        "feature_statistics",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("view_name", sa.String(length=128), nullable=False),
        sa.Column("view_version", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", sa.BigInteger(), nullable=False),
        sa.Column("materialization_id", sa.String(length=32), nullable=True),
        sa.Column("start_ms", sa.BigInteger(), nullable=True),
        sa.Column("end_ms", sa.BigInteger(), nullable=True),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["materialization_id"],
            ["feature_materializations.id"],
            name=op.f("fk_feature_statistics_materialization_id_feature_materializations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_statistics")),
    )
    with op.batch_alter_table("feature_statistics", schema=None) as batch_op:
        batch_op.create_index("ix_feature_statistics_view", ["view_name", "computed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feature_statistics", schema=None) as batch_op:
        batch_op.drop_index("ix_feature_statistics_view")

    op.drop_table("feature_statistics")
    op.drop_table("feature_definition_versions")
    with op.batch_alter_table("training_datasets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_datasets_digest"))

    op.drop_table("training_datasets")
    op.drop_table("feature_watermarks")
    with op.batch_alter_table("feature_materializations", schema=None) as batch_op:
        batch_op.drop_index("ix_feature_materializations_view")

    op.drop_table("feature_materializations")
    with op.batch_alter_table("feature_definitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feature_definitions_owner"))
        batch_op.drop_index(batch_op.f("ix_feature_definitions_name"))

    op.drop_table("feature_definitions")
