"""The SDK's metric buffer: ``log_metric`` appends to memory; points reach the store in batches.

A batch is sealed when it reaches ``flush_size`` points and sent by a background thread (one daemon
thread per process serves every buffer), so the caller goes on logging while the store takes it;
with :data:`MAX_SEALED` batches already waiting, the caller sends them itself, which bounds memory.
Points are also sent every ``flush_interval`` seconds, when the run ends (normally or by an
exception), and at process exit. Batches are sent one at a time, in order. A batch that fails stays
pending with its batch id and is retried first next time; the store ignores a batch id it has
already stored, so a retry never duplicates points.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable

from shipyard.core.ids import new_id
from shipyard.tracking.api import MetricPoint

log = logging.getLogger(__name__)

Sink = Callable[[list[MetricPoint], str], object]

#: Full batches that may wait for the background thread before ``log_metric`` sends them itself.
MAX_SEALED = 4


class MetricBuffer:
    def __init__(self, sink: Sink, *, flush_size: int, flush_interval: float) -> None:
        self._sink = sink
        self._size = flush_size
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
            while True:
                with self._lock:
                    if not self._pending:
                        return
                    batch_id, batch = self._pending[0]
                self._sink(batch, batch_id)
                with self._lock:
                    self._pending.pop(0)

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
            while True:
                with self._lock:
                    if len(self._pending) == 1:
                        return self._pending[0]
                    batch_id, batch = self._pending[0]
                self._sink(batch, batch_id)
                with self._lock:
                    self._pending.pop(0)

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


_ticker = _Ticker()
