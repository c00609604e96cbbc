"""The one append lock shared by the audit trail and the event log.

Both assign gapless sequence numbers in commit order, so their appends are serialized. On SQLite
every write transaction already holds the database's writer lock (``BEGIN IMMEDIATE``); on
PostgreSQL :func:`take_append_lock` takes a transaction-level advisory lock, held until commit.
Both logs take the SAME key, so a transaction that appends an audit record and publishes an event
waits once and can never deadlock with one doing the same in the other order.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

#: The key of the advisory lock that serializes appends on PostgreSQL ("SHIPYAUD" as bytes).
ADVISORY_LOCK_KEY = 0x5348495059415544


def take_append_lock(conn: Connection) -> None:
    """Serialize with every other appender until the caller's transaction ends (re-entrant)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
