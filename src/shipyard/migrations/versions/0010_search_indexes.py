"""search indexes: the first page of a search at 100,000 runs

Revision ID: 0010_search_indexes
Revises: 0005_event_log

``latest_metrics (key, value, run_id)`` lets a search ordered by a metric it filters on walk the
index in order and stop at the page's end, reading run ids from the index alone (it replaces
``(key, value)``). ``runs (experiment_id, start_time)`` serves the default ordering (newest first)
within an experiment.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010_search_indexes"
down_revision: str | None = "0009_hardening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("latest_metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_latest_metrics_key_value")
        batch_op.create_index("ix_latest_metrics_key_value_run", ["key", "value", "run_id"], unique=False)
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index("ix_runs_experiment_start", ["experiment_id", "start_time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_experiment_start")
    with op.batch_alter_table("latest_metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_latest_metrics_key_value_run")
        batch_op.create_index("ix_latest_metrics_key_value", ["key", "value"], unique=False)
