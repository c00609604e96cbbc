"""Databases for tests: a temporary SQLite file, or a fresh PostgreSQL database created on the
server named by ``SHIPYARD_TEST_POSTGRES_URL`` and dropped afterwards; Redis (online stores) named
by ``SHIPYARD_TEST_REDIS_URL``, each test under its own key prefix, deleted afterwards.

Under CI (``CI=true``) a configured backend that cannot be reached fails the run instead of
skipping; an unset URL also fails under CI, since CI always provides PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import make_url

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
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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
