"""The SDK's metric buffer: ``log_metric`` appends to memory; points reach the store in batches.

A batch is sealed when it reaches ``flush_size`` points and sent by a background thread (one daemon
thread per process serves every buffer), so the caller goes on logging while the store takes it;
with :data:`MAX_SEALED` batches already waiting, the caller sends them itself, which bounds memory.
Points are also sent every ``flush_interval`` seconds, when the run ends (normally or by an
exception), and at process exit. Up to ``senders`` batches are sent at once (the oldest first),
each in its own call of the sink: a store that takes concurrent writes (PostgreSQL, a server) stores
them side by side, and arrival order does not matter, because the store keeps each key's latest
value by step and timestamp. A batch that fails stays pending with its batch id and is retried
first next time; the store ignores a batch id it has already stored, so a retry never duplicates
points.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future

from shipyard.core.ids import new_id
from shipyard.tracking.api import MetricPoint

log = logging.getLogger(__name__)

Sink = Callable[[list[MetricPoint], str], object]

#: Full batches that may wait for the background thread before ``log_metric`` sends them itself.
MAX_SEALED = 4


class MetricBuffer:
    def __init__(self, sink: Sink, *, flush_size: int, flush_interval: float, senders: int = 1) -> None:
        self._sink = sink
        self._size = flush_size
        self._senders = max(1, senders)
        self.interval = flush_interval
        self._points: list[MetricPoint] = []
        self._pending: list[tuple[str, list[MetricPoint]]] = []  # sealed batches, oldest first
        self._lock = threading.Lock()  # guards _points and _pending
        self._flush_lock = threading.Lock()  # one flush at a time, in order
        self.last_flush = time.monotonic()
        self._scheduled = False

    def add(self, point: MetricPoint) -> None:
        with self._lock:
            points = self._points
            points.append(point)
            if len(points) < self._size:
                full = False
            else:
                full = True
                self._pending.append((new_id(), points))
                self._points = []
                backlog = len(self._pending)
        if full:
            if backlog > MAX_SEALED:
                self.flush()  # the store is slower than the caller: wait for it here
            else:
                self._scheduled = True
                _ticker.watch(self)  # wakes the thread, which sends sealed batches at once
        elif not self._scheduled:
            self._scheduled = True
            _ticker.watch(self)

    def __len__(self) -> int:
        return len(self._points) + sum(len(p) for _, p in self._pending)

    @property
    def sealed(self) -> bool:
        """Whether full batches wait to be sent."""
        return bool(self._pending)

    def flush(self, *, sealed_only: bool = False) -> None:
        """Send everything buffered (only the full batches with ``sealed_only``); raises if the
        store cannot take it (points stay pending)."""
        with self._flush_lock:
            with self._lock:
                if self._points and not sealed_only:
                    self.last_flush = time.monotonic()
                    self._pending.append((new_id(), self._points))
                    self._points = []
            while self._send_oldest(keep=0):
                pass

    def close(self) -> None:
        """Flush and stop being flushed by the interval thread."""
        _ticker.unwatch(self)
        self.flush()

    def seal(self) -> tuple[str, list[MetricPoint]] | None:
        """Stop being flushed by the interval thread, send every batch but the last, and return
        the last ``(batch id, points)`` (None if nothing is buffered) for the caller to send with
        something else; it stays pending until :meth:`sent` says it reached the store."""
        _ticker.unwatch(self)
        with self._flush_lock:
            with self._lock:
                if self._points:
                    self._pending.append((new_id(), self._points))
                    self._points = []
                if not self._pending:
                    return None
            while self._send_oldest(keep=1):
                pass
            with self._lock:
                return self._pending[0]

    def _send_oldest(self, *, keep: int) -> bool:
        """Send up to ``senders`` of the oldest pending batches at once, leaving the newest
        ``keep``; False when there was nothing to send. Called under the flush lock. The batches
        that reached the store are forgotten; if any failed, the first failure is raised."""
        with self._lock:
            batches = self._pending[: max(0, min(self._senders, len(self._pending) - keep))]
        if not batches:
            return False
        helped = [_helpers.submit(self._sink, points, batch_id) for batch_id, points in batches[1:]]
        failures: list[BaseException] = []
        try:
            self._sink(batches[0][1], batches[0][0])
        except BaseException as exc:  # the others still finish, and count
            failures.append(exc)
            done = set()
        else:
            done = {batches[0][0]}
        for (batch_id, _), future in zip(batches[1:], helped, strict=True):
            failure = future.exception()
            if failure is None:
                done.add(batch_id)
            else:
                failures.append(failure)
        with self._lock:
            self._pending = [(b, points) for b, points in self._pending if b not in done]
        if failures:
            raise failures[0]
        return True

    def sent(self, batch_id: str) -> None:
        """The batch :meth:`seal` returned reached the store another way: forget it."""
        with self._lock:
            self._pending = [(b, points) for b, points in self._pending if b != batch_id]


class _Ticker:
    """One daemon thread that sends every watched buffer's sealed batches, and the rest of a
    buffer once its interval has passed."""

    def __init__(self) -> None:
        self._buffers: weakref.WeakSet[MetricBuffer] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, buffer: MetricBuffer) -> None:
        """Flush ``buffer`` when its interval has passed, and its sealed batches at once."""
        with self._lock:
            self._buffers.add(buffer)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True, name="shipyard-metrics")
                self._thread.start()
        self._wake.set()

    def unwatch(self, buffer: MetricBuffer) -> None:
        with self._lock:
            self._buffers.discard(buffer)

    def _run(self) -> None:
        while True:
            with self._lock:
                buffers = list(self._buffers)
            now = time.monotonic()
            wait = 1.0
            for buffer in buffers:
                due = buffer.last_flush + buffer.interval
                if buffer.sealed or (due <= now and len(buffer)):
                    try:
                        buffer.flush(sealed_only=due > now)
                    except Exception as exc:  # keep the points; the next flush or the run's end retries
                        log.warning("shipyard: flushing metrics failed, will retry: %s", exc)
                        due = now + buffer.interval
                    else:
                        due = buffer.last_flush + buffer.interval
                wait = min(wait, max(due - now, 0.01))
            del buffers
            self._wake.wait(wait)
            self._wake.clear()


class _Helpers:
    """Daemon threads that send a flush's extra batches. Daemon threads, not an executor: an
    executor refuses work once the interpreter is shutting down, and the exit flush runs then."""

    def __init__(self) -> None:
        self._work: queue.SimpleQueue[tuple[Callable[[], object], Future[object]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, sink: Sink, points: list[MetricPoint], batch_id: str) -> Future[object]:
        future: Future[object] = Future()
        with self._lock:
            if self._idle == 0:
                self._threads += 1
                threading.Thread(
                    target=self._run, daemon=True, name=f"shipyard-metrics-{self._threads}"
                ).start()
            else:
                self._idle -= 1
        self._work.put((lambda: sink(points, batch_id), future))
        return future

    def _run(self) -> None:
        while True:
            call, future = self._work.get()
            try:
                future.set_result(call())
            except BaseException as exc:
                future.set_exception(exc)
            del call, future
            with self._lock:
                self._idle += 1


_ticker = _Ticker()
_helpers = _Helpers()
