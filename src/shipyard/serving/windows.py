"""Live figures per deployment version, summed in memory and handed to a
:class:`~shipyard.serving.ports.WindowSink` every few seconds (see :class:`VersionWindow`)."""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

from shipyard.core.clock import now_ms
from shipyard.serving.model import Role, VersionWindow

#: Upper bounds (ms) of the latency histogram reported in each window.
LATENCY_BUCKETS_MS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, float("inf"))

Key = tuple[str, str, int, Role]  # deployment, model, version, role


@dataclass
class _Counts:
    requests: int = 0
    errors: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS_MS))
    compared: int = 0
    agreed: int = 0


class WindowCounter:
    """Thread-safe counters; :meth:`take` returns the windows since the last call and starts anew."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[Key, _Counts] = {}
        self._start = now_ms()

    def observe(self, key: Key, latency_ms: float, *, error: bool = False) -> None:
        slot = bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)
        with self._lock:
            counts = self._counts.get(key)
            if counts is None:
                counts = self._counts[key] = _Counts()
            counts.requests += 1
            counts.errors += error
            counts.buckets[slot] += 1

    def compare(self, key: Key, agreed: bool) -> None:
        with self._lock:
            counts = self._counts.get(key)
            if counts is None:
                counts = self._counts[key] = _Counts()
            counts.compared += 1
            counts.agreed += agreed

    def take(self) -> list[VersionWindow]:
        end = now_ms()
        with self._lock:
            counts, self._counts = self._counts, {}
            start, self._start = self._start, end
        windows = []
        for (deployment, model, version, role), c in sorted(counts.items()):
            cumulative, running = {}, 0
            for bound, count in zip(LATENCY_BUCKETS_MS, c.buckets, strict=True):
                running += count
                cumulative[bound] = running
            windows.append(
                VersionWindow(
                    deployment, model, version, role, start, end,
                    requests=c.requests, errors=c.errors, latency_buckets=cumulative,
                    compared=c.compared, agreed=c.agreed,
                )
            )  # fmt: skip
        return windows
