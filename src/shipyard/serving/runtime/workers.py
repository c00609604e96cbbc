"""Several worker processes on one port (``shipyard serve --workers N``).

Each worker binds a listening socket of its own with ``SO_REUSEPORT``, and the kernel spreads new
connections over the sockets that are listening (by a hash of the client's address and port). With
one shared socket, whichever worker accepts first takes a connection, so a burst of keep-alive
connections opened at once can all land on one worker. A worker listens only once its models are
loaded (uvicorn calls ``listen`` after the application's startup), and its socket leaves the group
when it dies, so connections go only to workers that can answer them.

The :class:`Supervisor` (the parent process) starts the workers, restarts one that dies, and on
SIGINT or SIGTERM asks each to stop gracefully (answer what is in flight, drain the inference log).
A worker tells it that it is ready through a pipe; the pipe's end of file tells it that the worker is
gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from shipyard.errors import InvalidInput

READY_FD_ENV = "SHIPYARD_WORKER_READY_FD"
INDEX_ENV = "SHIPYARD_WORKER_INDEX"
MAX_RESTART_DELAY = 30.0


def listen_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not yet listening: uvicorn listens after startup);
    InvalidInput naming the address when it cannot be bound (the port is taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = (exc.strerror or str(exc)).lower()
        raise InvalidInput(f"cannot listen on {host}:{port}: {reason}", field="port") from None
    return sock


def check_port(host: str, port: int) -> None:
    """InvalidInput if ``host:port`` is taken, by any program (a listening socket with
    ``SO_REUSEPORT`` included: a plain bind fails on it, so two servers never share a port)."""
    listen_socket(host, port).close()


class ReadyServer(uvicorn.Server):
    """A uvicorn server that calls ``on_ready`` once it is listening."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_ready()


class ConnectionCount:
    """The HTTP connections open in this process, kept by :func:`counting_protocol`'s protocol."""

    def __init__(self) -> None:
        self.open = 0

    def __call__(self) -> int:
        return self.open


CONNECTIONS = ConnectionCount()


def counting_protocol() -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools when installed, else h11) that also counts open
    connections in :data:`CONNECTIONS` (``uvicorn.Config(http=...)`` takes a protocol class)."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    def connection_made(self: asyncio.Protocol, transport: asyncio.BaseTransport) -> None:
        CONNECTIONS.open += 1
        AutoHTTPProtocol.connection_made(self, transport)

    def connection_lost(self: asyncio.Protocol, exc: Exception | None) -> None:
        CONNECTIONS.open -= 1
        AutoHTTPProtocol.connection_lost(self, exc)

    return type(
        "CountingHTTPProtocol",
        (AutoHTTPProtocol,),
        {"connection_made": connection_made, "connection_lost": connection_lost},
    )


def worker_ready_fd() -> int:
    """In a worker: the pipe to tell the supervisor it is ready (kept open while the worker lives,
    and not passed on to processes the worker starts)."""
    fd = int(os.environ[READY_FD_ENV])
    os.set_inheritable(fd, False)
    return fd


def exit_with_parent(interval: float = 1.0) -> None:
    """In a worker: stop gracefully (SIGTERM to itself) if the supervisor dies without stopping it
    (killed with SIGKILL), rather than serve on as an orphan."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="shipyard-parent-watch", daemon=True).start()


def describe(status: int) -> str:
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


@dataclass
class _Worker:
    index: int
    proc: subprocess.Popen[bytes] | None = None
    pipe: int = -1  # read end: a byte once the worker listens, end of file when it is gone
    ready: bool = False
    failures: int = 0  # deaths in a row without becoming ready
    restart_at: float | None = None


@dataclass
class Outcome:
    signal: int | None = None  # the signal that stopped the server (to re-raise)
    failure: str | None = None  # why it stopped on its own (a worker could not start)
    messages: list[str] = field(default_factory=list)


class Supervisor:
    """Runs ``command`` in ``workers`` processes (each in its own process group, so Ctrl+C in a
    terminal reaches only the supervisor, which forwards a graceful stop) and keeps them running.

    A worker that dies before every worker has started once is a startup failure: the others are
    stopped and :meth:`run` reports it. Later, a dead worker is restarted at once; one that dies
    again before it is ready is restarted after 1, 2, 4 ... up to 30 s. On SIGINT or SIGTERM every
    worker gets SIGTERM and ``grace`` seconds to stop (a second SIGINT forwards SIGINT: uvicorn's
    forced stop); any still running then is killed.
    """

    def __init__(
        self,
        command: Sequence[str],
        workers: int,
        *,
        env: Mapping[str, str],
        grace: float = 60.0,
        on_exit: Callable[[int], None] = lambda pid: None,
        report: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
    ) -> None:
        self.command = list(command)
        self.env = dict(env)
        self.grace = grace
        self.on_exit = on_exit
        self.report = report
        self.workers = [_Worker(i + 1) for i in range(workers)]
        self.started = False  # every worker has been ready once
        self._signals: list[int] = []

    # -- processes ------------------------------------------------------------------------------

    def _start(self, worker: _Worker) -> None:
        read, write = os.pipe()
        env = {**self.env, READY_FD_ENV: str(write), INDEX_ENV: str(worker.index)}
        try:
            worker.proc = subprocess.Popen(self.command, env=env, pass_fds=(write,), process_group=0)
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)
        worker.pipe, worker.ready, worker.restart_at = read, False, None

    def _live(self) -> list[_Worker]:
        return [w for w in self.workers if w.proc is not None]

    def _signal_all(self, sig: int) -> None:
        for worker in self._live():
            assert worker.proc is not None
            with contextlib.suppress(ProcessLookupError):
                worker.proc.send_signal(sig)

    def _reap(self, worker: _Worker) -> int:
        assert worker.proc is not None
        status = worker.proc.wait()
        pid = worker.proc.pid
        os.close(worker.pipe)
        worker.proc, worker.pipe = None, -1
        self.on_exit(pid)
        return status

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> Outcome:
        """Start the workers and supervise them until a signal stops them or they cannot start."""
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        previous_wakeup = signal.set_wakeup_fd(wake_write)
        handlers: dict[int, Any] = {
            sig: signal.signal(sig, lambda sig, frame: self._signals.append(sig))
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            return self._supervise(wake_read)
        finally:
            for worker in self._live():  # an unexpected error here: leave no worker behind
                assert worker.proc is not None
                worker.proc.kill()
                self._reap(worker)
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(previous_wakeup)
            os.close(wake_read)
            os.close(wake_write)

    def _supervise(self, wake: int) -> Outcome:
        outcome = Outcome()
        stopping_at: float | None = None  # when the workers were asked to stop
        seen = 0  # signals handled
        for worker in self.workers:
            self._start(worker)
        while True:
            live = self._live()
            pending = [w.restart_at for w in self.workers if w.proc is None and w.restart_at is not None]
            if not live and (stopping_at is not None or not pending):
                return outcome
            now = time.monotonic()
            deadlines = [*pending, *([stopping_at + self.grace] if stopping_at is not None else [])]
            timeout = max(0.0, min(deadlines) - now) if deadlines else None
            readable, _, _ = select.select([wake, *(w.pipe for w in live)], [], [], timeout)
            if wake in readable:
                with contextlib.suppress(BlockingIOError):
                    while os.read(wake, 64):
                        pass
            while seen < len(self._signals):
                sig = self._signals[seen]
                seen += 1
                if stopping_at is None:
                    outcome.signal = sig
                    stopping_at = self._stop()
                elif sig == signal.SIGINT:  # a second Ctrl+C: stop without waiting
                    self._signal_all(signal.SIGINT)
            gone = []
            for worker in live:  # every "ready" first: a death seen in the same round comes after
                if worker.pipe not in readable:
                    continue
                if os.read(worker.pipe, 64):
                    worker.ready, worker.failures = True, 0
                    self.started = self.started or all(w.ready for w in self.workers)
                else:
                    gone.append(worker)
            for worker in gone:
                pid = worker.proc.pid if worker.proc is not None else 0
                ready = worker.ready
                status = self._reap(worker)
                if stopping_at is not None:
                    if status not in (0, -signal.SIGTERM, -signal.SIGINT):
                        outcome.messages.append(f"worker {worker.index} (pid {pid}) {describe(status)}")
                    continue
                if not self.started:
                    outcome.failure = f"worker {worker.index} (pid {pid}) {describe(status)} while starting"
                    stopping_at = self._stop()
                    continue
                worker.failures = 0 if ready else worker.failures + 1
                delay = 0.0 if worker.failures == 0 else min(MAX_RESTART_DELAY, 2.0 ** (worker.failures - 1))
                self.report(
                    f"worker {worker.index} (pid {pid}) {describe(status)}; "
                    + (f"restarting it in {delay:g} s" if delay else "restarting it")
                )
                worker.restart_at = time.monotonic() + delay
            now = time.monotonic()
            for worker in self.workers:
                due = worker.restart_at is not None and worker.restart_at <= now
                if stopping_at is None and worker.proc is None and due:
                    self._start(worker)
            if stopping_at is not None and now >= stopping_at + self.grace:
                for worker in self._live():
                    assert worker.proc is not None
                    outcome.messages.append(
                        f"worker {worker.index} (pid {worker.proc.pid}) did not stop within "
                        f"{self.grace:g} s: killed"
                    )
                    worker.proc.kill()
                    self._reap(worker)

    def _stop(self) -> float:
        for worker in self.workers:
            worker.restart_at = None
        self._signal_all(signal.SIGTERM)
        return time.monotonic()
