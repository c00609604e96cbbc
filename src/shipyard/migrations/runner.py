"""Apply and inspect migrations programmatically (``shipyard db upgrade``, embedded auto-upgrade)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from shipyard.errors import ConfigError
from shipyard.storage.metadata.database import Database

_HERE = Path(__file__).parent


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    return config


def head() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise ConfigError(f"the migration tree has {len(heads)} heads, expected one: {heads}")
    return heads[0]


def current(db: Database) -> str | None:
    with db.read() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> None:
    """Upgrade to ``revision``. Concurrent callers are safe: the write transaction serialises them
    and each re-reads the version inside it."""
    config = alembic_config()
    with db.write() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(db: Database, revision: str) -> None:
    """Step the schema back to ``revision`` (``"base"``: drop every Shipyard table)."""
    config = alembic_config()
    with db.write() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def ensure_current(db: Database, *, auto_upgrade: bool) -> None:
    """Make sure the schema is at head: upgrade an embedded database, or explain what to run."""
    found = current(db)
    if found == head():
        return
    if auto_upgrade and db.embedded:
        upgrade(db)
        return
    where = "an empty database" if found is None else f"revision {found}"
    raise ConfigError(
        f"the metadata database is at {where} but this Shipyard needs {head()}: run `shipyard db upgrade`"
    )
