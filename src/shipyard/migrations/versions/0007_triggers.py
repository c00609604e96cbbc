"""pipeline triggers and their firings

Revision ID: 0007_triggers
Revises: 0005_event_log
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_triggers"
down_revision: str | None = "0006_pipelines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pipeline_triggers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("pipeline", sa.String(length=250), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("cooldown_s", sa.BigInteger(), nullable=False),
        sa.Column("max_concurrent", sa.BigInteger(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("last_fired_at", sa.BigInteger(), nullable=True),
        sa.Column("next_check_at", sa.BigInteger(), nullable=True),
        sa.Column("cursor", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_triggers")),
        sa.UniqueConstraint("name", name=op.f("uq_pipeline_triggers_name")),
    )
    with op.batch_alter_table("pipeline_triggers", schema=None) as batch_op:
        batch_op.create_index("ix_pipeline_triggers_due", ["enabled", "next_check_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipeline_triggers_pipeline"), ["pipeline"], unique=False)

    op.create_table(
        "pipeline_trigger_firings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("trigger_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.BigInteger(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=32), nullable=True),
        sa.Column("claimed_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("submitted_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["trigger_id"],
            ["pipeline_triggers.id"],
            name=op.f("fk_pipeline_trigger_firings_trigger_id_pipeline_triggers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_trigger_firings")),
        sa.UniqueConstraint("key", name=op.f("uq_pipeline_trigger_firings_key")),
    )
    with op.batch_alter_table("pipeline_trigger_firings", schema=None) as batch_op:
        batch_op.create_index("ix_pipeline_trigger_firings_status", ["status", "created_at"], unique=False)
        batch_op.create_index(
            "ix_pipeline_trigger_firings_trigger", ["trigger_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pipeline_trigger_firings", schema=None) as batch_op:
        batch_op.drop_index("ix_pipeline_trigger_firings_trigger")
        batch_op.drop_index("ix_pipeline_trigger_firings_status")
    op.drop_table("pipeline_trigger_firings")
    with op.batch_alter_table("pipeline_triggers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pipeline_triggers_pipeline"))
        batch_op.drop_index("ix_pipeline_triggers_due")
    op.drop_table("pipeline_triggers")
