"""Alembic environment: always driven programmatically by :mod:`shipyard.migrations.runner`,
which hands over an open connection in ``config.attributes["connection"]``."""

from __future__ import annotations

from alembic import context

from shipyard.migrations.schema import target_metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
