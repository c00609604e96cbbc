"""Prometheus metrics of one prediction server, in their own registry (several servers may live in
one process, in tests).

With several worker processes (``PROMETHEUS_MULTIPROC_DIR`` set before prometheus_client is
imported, as ``shipyard serve --workers N`` does) every value is kept in a file of that folder, and
``/metrics`` of any worker shows the sums over every worker (prometheus_client's multiprocess mode):
counters and histograms of workers that died included, gauges of live workers only. The inference
log's counters live in the log itself; in that mode they are copied into the files by :meth:`sync`
(every second, and at each scrape for the worker scraped).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096)


LOG_COUNTERS = (
    ("queued", "rows queued for the inference log"),
    ("written", "rows written to the inference log"),
    ("spilled", "rows spilled to local disk after failed writes"),
    ("dropped", "rows dropped because the inference log queue was full"),
    ("failed_writes", "inference log writes that failed (each retry counts)"),
)
LOG_QUEUE_DOC = "requests waiting in the inference log queue"


def shared_dir() -> str | None:
    """The folder workers share their figures through, when there is one."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class _LogCollector(Collector):
    """The inference log's counters, read at scrape time (one process)."""

    def __init__(self, stats: Callable[[], Mapping[str, int]], pending: Callable[[], int]) -> None:
        self._stats = stats
        self._pending = pending

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self._stats()
        for key, doc in LOG_COUNTERS:
            yield CounterMetricFamily(f"shipyard_inference_log_{key}", doc, value=stats.get(key, 0))
        yield GaugeMetricFamily("shipyard_inference_log_queue", LOG_QUEUE_DOC, value=self._pending())


class ServerMetrics:
    def __init__(self) -> None:
        self.shared = shared_dir() is not None
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("deployment", "version")
        self.requests = Counter(
            "shipyard_predict_requests", "prediction requests answered", labels, registry=self.registry
        )
        self.errors = Counter(
            "shipyard_predict_errors",
            "prediction requests that failed, by HTTP status",
            (*labels, "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "shipyard_predict_latency_seconds",
            "time from request to answer",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "shipyard_predict_batch_rows",
            "rows per model call after micro-batching (a version serves every deployment naming it)",
            ("model", "version"),
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.loaded = Gauge(
            "shipyard_models_loaded", "model versions held in memory", registry=self.registry,
            multiprocess_mode="livesum",
        )  # fmt: skip
        self.loaded_bytes = Gauge(
            "shipyard_models_loaded_bytes", "estimated memory of the loaded versions", registry=self.registry,
            multiprocess_mode="livesum",
        )  # fmt: skip
        self.loads = Counter("shipyard_model_loads", "model versions loaded", registry=self.registry)
        self.evictions = Counter(
            "shipyard_model_evictions", "model versions evicted under the memory cap", registry=self.registry
        )
        self.load_seconds = Histogram(
            "shipyard_model_load_seconds", "time to load a model version", registry=self.registry
        )
        self.shadow_errors = Counter(
            "shipyard_shadow_errors", "shadow or comparison predictions that failed", ("deployment",),
            registry=self.registry,
        )  # fmt: skip

        self._log: tuple[Callable[[], Mapping[str, int]], Callable[[], int]] | None = None
        self._log_counters: dict[str, Counter] = {}
        self._log_copied: dict[str, int] = {}
        self._log_queue: Gauge | None = None

    def watch_log(self, stats: Callable[[], Mapping[str, int]], pending: Callable[[], int]) -> None:
        if not self.shared:
            self.registry.register(_LogCollector(stats, pending))
            return
        self._log = (stats, pending)
        for key, doc in LOG_COUNTERS:
            self._log_counters[key] = Counter(f"shipyard_inference_log_{key}", doc, registry=self.registry)
            self._log_copied[key] = 0
        self._log_queue = Gauge(
            "shipyard_inference_log_queue", LOG_QUEUE_DOC, registry=self.registry, multiprocess_mode="livesum"
        )

    def sync(self) -> None:
        """Shared mode: copy what the inference log counted since the last call into the files."""
        if self._log is None or self._log_queue is None:
            return
        stats, pending = self._log
        now = stats()
        for key, counter in self._log_counters.items():
            value = now.get(key, 0)
            if value > self._log_copied[key]:
                counter.inc(value - self._log_copied[key])
                self._log_copied[key] = value
        self._log_queue.set(pending())

    def exposition(self) -> bytes:
        """The text of ``/metrics``: this process's figures, or every worker's summed."""
        if not self.shared:
            return generate_latest(self.registry)
        self.sync()
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
