"""metrics: no foreign key to runs

Revision ID: 0014_metrics_without_run_fk
Revises: 0013_metric_curve_index

A foreign key is checked row by row: on PostgreSQL every metric point written by ``COPY`` fired a
referential-integrity trigger that looked its run up again, which doubled the cost of storing
points. The writer now checks the run once per batch instead, in the batch's own transaction, and
on PostgreSQL holds it with ``FOR KEY SHARE`` (the lock the trigger took) so the run cannot go
away before the batch commits. Shipyard never deletes a run on its own; a run's points are deleted
with it by the code that would (there is none today).

On SQLite the table is rebuilt (Alembic's batch mode): about 2 s per million points, once.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014_metrics_without_run_fk"
down_revision: str | None = "0013_metric_curve_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_metrics_run_id_runs"


def upgrade() -> None:
    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.drop_constraint(FK, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.create_foreign_key(FK, "runs", ["run_id"], ["id"], ondelete="CASCADE")
