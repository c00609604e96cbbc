"""metrics: no id column

Revision ID: 0015_metrics_without_id
Revises: 0014_metrics_without_run_fk

Every metric point took a number from a sequence and an entry in a second index (the primary key),
and the covering index carried the number too: on PostgreSQL that was about a third of the cost
of storing a point by ``COPY``, and it serialized concurrent writers on the sequence and on the
right edge of the primary key. Nothing reads the number: a history is read in step and timestamp
order, and points logged at the same step and millisecond come back in value order instead of in
logging order.

The covering index is rebuilt without it: ``metrics (run_id, key, step, timestamp, value)``. On
SQLite the table is rebuilt (Alembic's batch mode), about 2 s per million points, once; on
PostgreSQL the column is dropped and the index rebuilt, about 1 s per million points. The downgrade
numbers the points again, in no particular order.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_metrics_without_id"
down_revision: str | None = "0014_metrics_without_run_fk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_metrics_covering"
WITH_ID = ["run_id", "key", "step", "timestamp", "id", "value"]
WITHOUT_ID = ["run_id", "key", "step", "timestamp", "value"]


def upgrade() -> None:
    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.drop_column("id")
        batch_op.create_index(INDEX, WITHOUT_ID, unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index(INDEX, table_name="metrics")
        op.execute("ALTER TABLE metrics ADD COLUMN id BIGSERIAL")
        op.create_primary_key("pk_metrics", "metrics", ["id"])
        op.create_index(INDEX, "metrics", WITH_ID, unique=False)
        return
    # SQLite: the rebuilt table numbers every copied row (an INTEGER PRIMARY KEY is the rowid).
    with op.batch_alter_table("metrics", schema=None, recreate="always") as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.add_column(sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True))
        batch_op.create_index(INDEX, WITH_ID, unique=False)
