"""Databases for tests: a temporary SQLite file, or a fresh PostgreSQL database created on the
server named by ``SHIPYARD_TEST_POSTGRES_URL`` and dropped afterwards; Redis (online stores) named
by ``SHIPYARD_TEST_REDIS_URL``, each test under its own key prefix, deleted afterwards.

Under CI (``CI=true``) a configured backend that cannot be reached fails the run instead of
skipping; an unset URL also fails under CI, since CI always provides PostgreSQL.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.sql import ClauseElement

from shipyard.migrations import runner
from shipyard.migrations.schema import target_metadata
from shipyard.storage.metadata.database import Database

POSTGRES_ENV = "SHIPYARD_TEST_POSTGRES_URL"
REDIS_ENV = "SHIPYARD_TEST_REDIS_URL"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(what: str) -> None:
    if in_ci():
        pytest.fail(f"{what} (CI=true: configured backends must be reachable)")
    pytest.skip(what)


@cache
def _sqlite_template() -> Path:
    """A SQLite metadata database migrated to head, once per test process."""
    from shipyard.migrations import runner

    folder = Path(tempfile.mkdtemp(prefix="shipyard-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "shipyard.db"
    db = Database(f"sqlite:///{path.as_posix()}")
    try:
        runner.upgrade(db)
    finally:
        db.dispose()
    with closing(sqlite3.connect(path)) as conn:  # everything into the main file: copy it alone
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def seed_embedded_home(home: Path) -> Path:
    """Give ``home`` (an embedded ``SHIPYARD_HOME``) its metadata database already at the current
    revision, copied from a template migrated once per session instead of migrated per test.
    Tests of the migrations themselves start from an empty database instead."""
    home.mkdir(parents=True, exist_ok=True)
    target = home / "shipyard.db"
    if target.exists():
        raise FileExistsError(target)
    shutil.copyfile(_sqlite_template(), target)
    return home


def postgres_server_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        unavailable(f"{POSTGRES_ENV} is not set")
        raise AssertionError  # unreachable
    return url


def redis_server_url() -> str:
    """The test Redis, once it answers a ping."""
    url = os.environ.get(REDIS_ENV)
    if not url:
        unavailable(f"{REDIS_ENV} is not set")
        raise AssertionError  # unreachable
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {url} is unreachable: {exc}")
    return url


def new_redis_prefix() -> str:
    return f"shipyard-test-{uuid.uuid4().hex[:12]}"


def drop_redis_prefix(url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` (a shared Redis outlives the test)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        leftovers = list(client.scan_iter(match=f"{prefix}:*", count=10_000))
        if leftovers:
            client.delete(*leftovers)
    finally:
        client.close()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty database next to the configured one; yield its URL; drop it after."""
    server = make_url(Database(postgres_server_url()).engine.url)
    name = f"shipyard_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        unavailable(f"PostgreSQL at {server.render_as_string(hide_password=True)} is unreachable: {exc}")
    admin.dispose()
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        _drop_in_the_background(server.set(drivername="postgresql").render_as_string(False), name)


_DROP = """
import os, sys, psycopg
with psycopg.connect(os.environ["SHIPYARD_TEST_DROP_FROM"], autocommit=True) as conn:
    conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % sys.argv[1])
"""


def _drop_in_the_background(server_url: str, name: str) -> None:
    """DROP DATABASE waits for a checkpoint of the whole (shared) server, seconds on a busy one: a
    detached process drops it while the tests go on, and finishes even after pytest has exited."""
    subprocess.Popen(
        [sys.executable, "-c", _DROP, name],
        env={**os.environ, "SHIPYARD_TEST_DROP_FROM": server_url},  # not in argv: it may hold a password
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


TRACKING_TABLES = (
    "run_datasets",
    "datasets",
    "artifacts",
    "metric_batches",
    "latest_metrics",
    "metrics",
    "tags",
    "params",
    "runs",
    "environments",
    "experiments",
)


def reset_tracking(db: Database) -> None:
    """Delete every tracking row (users and tokens stay), between tests sharing one database."""
    tables = target_metadata().tables
    with db.write() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(TRACKING_TABLES) + " CASCADE"))
        else:
            for name in TRACKING_TABLES:
                conn.execute(delete(tables[name]))


EVENT_TABLES = ("event_log", "event_head", "event_cursors")


def reset_events(db: Database) -> None:
    """Empty the event log and every consumer's cursor, between tests sharing one database."""
    tables = target_metadata().tables
    with db.write() as conn:
        for name in EVENT_TABLES:
            conn.execute(delete(tables[name]))


@contextmanager
def empty_database(backend: str, folder: Path) -> Iterator[Database]:
    """An empty database (no migration run) on ``backend``: ``"sqlite"`` (a file in ``folder``) or
    ``"postgresql"`` (a fresh database on the test server); disposed (and dropped) afterwards."""
    with ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{(folder / 'db.sqlite').as_posix()}"
        else:
            url = stack.enter_context(fresh_postgres_database())
        db = Database(url)
        stack.callback(db.engine.dispose)
        yield db


@contextmanager
def migrated_database(backend: str, folder: Path) -> Iterator[Database]:
    """:func:`empty_database` at the current revision."""
    with empty_database(backend, folder) as db:
        runner.upgrade(db)
        yield db


def query_plan(db: Database, query: ClauseElement) -> list[str]:
    """The database's plan for ``query``, a line per step (``EXPLAIN QUERY PLAN`` on SQLite)."""
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
    with db.engine.connect() as conn:
        return [str(r[-1]) for r in conn.execute(text(prefix + str(compiled)))]
