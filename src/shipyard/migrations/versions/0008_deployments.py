"""deployments

Revision ID: 0008_deployments
Revises: 0005_event_log
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_deployments"
down_revision: str | None = "0007_triggers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("model", sa.String(length=250), nullable=False),
        sa.Column("strategy", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("canary", sa.JSON(), nullable=True),
        sa.Column("canary_state", sa.JSON(), nullable=True),
        sa.Column("feature_service", sa.String(length=250), nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
        sa.UniqueConstraint("name", name=op.f("uq_deployments_name")),
    )
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployments_revision"), ["revision"], unique=False)

    head = op.create_table(
        "deployment_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_head")),
    )
    op.bulk_insert(head, [{"id": 1, "revision": 0}])  # the one row every change locks first
    op.create_table(
        "deployment_windows",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("deployment", sa.String(length=250), nullable=False),
        sa.Column("model", sa.String(length=250), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("end", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("latency_buckets", sa.JSON(), nullable=False),
        sa.Column("compared", sa.BigInteger(), nullable=False),
        sa.Column("agreed", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_windows")),
    )
    with op.batch_alter_table("deployment_windows", schema=None) as batch_op:
        batch_op.create_index("ix_deployment_windows_deployment_start", ["deployment", "start"], unique=False)

    op.create_table(
        "deployment_decisions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("deployment", sa.String(length=250), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("weight", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=250), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_decisions")),
    )
    with op.batch_alter_table("deployment_decisions", schema=None) as batch_op:
        batch_op.create_index("ix_deployment_decisions_deployment_at", ["deployment", "at"], unique=False)

    op.create_table(
        "deployment_leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=250), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deployment_leases")),
    )


def downgrade() -> None:
    op.drop_table("deployment_leases")
    with op.batch_alter_table("deployment_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_deployment_decisions_deployment_at")
    op.drop_table("deployment_decisions")
    with op.batch_alter_table("deployment_windows", schema=None) as batch_op:
        batch_op.drop_index("ix_deployment_windows_deployment_start")
    op.drop_table("deployment_windows")
    op.drop_table("deployment_head")
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployments_revision"))
    op.drop_table("deployments")
