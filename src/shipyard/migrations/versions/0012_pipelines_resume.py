"""pipelines: run heartbeats

Revision ID: 0012_pipelines_resume
Revises: 0010_search_indexes

``pipeline_runs.heartbeat_at``: the process executing a run writes it every few seconds, so a
scheduler can tell a run whose process died (no heartbeat within the lease) from a run with one
long step, and fail the first.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_pipelines_resume"
down_revision: str | None = "0011_monitoring"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
