"""The metadata database handle a service is given: an engine plus transaction scopes.

A service method opens exactly one scope; helpers receive the connection and never commit. A caller
that composes several reads of several services (authorization: the token, the run's experiment,
the grants) wraps them in :meth:`Database.shared_read`, so they run in one transaction.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from shipyard.errors import BackendUnavailable
from shipyard.storage.metadata.engine import is_sqlite, make_engine


class Database:
    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine if engine is not None else make_engine(url)
        # The read transaction shared_read() holds open in this thread or task, if any.
        self._shared: ContextVar[Connection | None] = ContextVar(
            f"shipyard_shared_read_{id(self)}", default=None
        )
        _forget_in_forked_children(self)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def embedded(self) -> bool:
        return is_sqlite(self.url)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A read-write transaction, committed when the block ends without an exception."""
        with self._connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (on SQLite it does not take the writer lock); inside
        :meth:`shared_read`, the shared one."""
        shared = self._shared.get()
        if shared is not None:
            yield shared
            return
        with self._read() as conn:
            yield conn

    @contextmanager
    def shared_read(self) -> Iterator[None]:
        """One read transaction for every :meth:`read` inside the block (in this thread or task):
        several service calls see one snapshot and cost one round of BEGIN/COMMIT. Writes inside
        the block run in their own transactions, as always."""
        if self._shared.get() is not None:
            yield
            return
        with self._read() as conn:
            token = self._shared.set(conn)
            try:
                yield
            finally:
                self._shared.reset(token)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._connect() as conn:
            conn = conn.execution_options(shipyard_readonly=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            conn = self.engine.connect()
        except OperationalError as exc:
            raise BackendUnavailable(
                f"cannot connect to the metadata database {self.engine.url!r}: {exc.orig}"
            ) from None
        with conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


_open: weakref.WeakSet[Database] = weakref.WeakSet()


def _forget_in_forked_children(db: Database) -> None:
    """A forked child must not use its parent's pooled connections (two processes on one socket or
    SQLite handle): it drops them without closing them, and opens its own on first use."""
    _open.add(db)


def _after_fork_in_child() -> None:
    for db in list(_open):
        db.engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)
