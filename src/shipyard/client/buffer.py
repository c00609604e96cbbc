"""The SDK's metric buffer: ``log_metric`` appends to memory; points reach the store in batches.

A batch is flushed when it reaches ``flush_size`` points, every ``flush_interval`` seconds (a
daemon thread), when the run ends (normally or by an exception), and at process exit. A batch that
fails to flush stays pending with its batch id and is retried first next time; the store ignores a
batch id it has already stored, so a retry never duplicates points.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable

from shipyard.core.ids import new_id
from shipyard.tracking.api import MetricPoint

log = logging.getLogger(__name__)

Sink = Callable[[list[MetricPoint], str], object]


class MetricBuffer:
    def __init__(self, sink: Sink, *, flush_size: int, flush_interval: float) -> None:
        self._sink = sink
        self._size = flush_size
        self._interval = flush_interval
        self._points: list[MetricPoint] = []
        self._pending: list[tuple[str, list[MetricPoint]]] = []
        self._lock = threading.Lock()  # guards _points
        self._flush_lock = threading.Lock()  # one flush at a time, in order
        self._closed = threading.Event()
        self._timer: threading.Thread | None = None

    def add(self, point: MetricPoint) -> None:
        with self._lock:
            points = self._points
            points.append(point)
            full = len(points) >= self._size
        if full:
            self.flush()
        elif self._timer is None:
            self._start_timer()

    def __len__(self) -> int:
        return len(self._points) + sum(len(p) for _, p in self._pending)

    def flush(self) -> None:
        """Send everything buffered; raises if the store cannot take it (points stay pending)."""
        with self._flush_lock:
            with self._lock:
                points, self._points = self._points, []
            if points:
                self._pending.append((new_id(), points))
            while self._pending:
                batch_id, batch = self._pending[0]
                self._sink(batch, batch_id)
                self._pending.pop(0)

    def close(self) -> None:
        """Flush and stop the interval thread."""
        self._closed.set()
        self.flush()

    def _start_timer(self) -> None:
        self._timer = threading.Thread(
            target=_tick,
            args=(weakref.ref(self), self._interval, self._closed),
            daemon=True,
            name="shipyard-metrics",
        )
        self._timer.start()


def _tick(ref: weakref.ref[MetricBuffer], interval: float, closed: threading.Event) -> None:
    while not closed.wait(interval):
        buffer = ref()
        if buffer is None:
            return
        try:
            buffer.flush()
        except Exception as exc:  # keep the points; the next flush (or the run's end) retries
            log.warning("shipyard: flushing metrics failed, will retry: %s", exc)
        del buffer
