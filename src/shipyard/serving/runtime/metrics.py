"""Prometheus metrics of one prediction server, in their own registry (several servers may live in
one process, in tests). Each worker process exposes its own figures on ``/metrics``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096)


class _LogCollector(Collector):
    """The inference log's counters, read at scrape time."""

    def __init__(self, stats: Callable[[], Mapping[str, int]], pending: Callable[[], int]) -> None:
        self._stats = stats
        self._pending = pending

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self._stats()
        for key, doc in (
            ("queued", "rows queued for the inference log"),
            ("written", "rows written to the inference log"),
            ("spilled", "rows spilled to local disk after failed writes"),
            ("dropped", "rows dropped because the inference log queue was full"),
            ("failed_writes", "inference log writes that failed (each retry counts)"),
        ):
            yield CounterMetricFamily(f"shipyard_inference_log_{key}", doc, value=stats.get(key, 0))
        yield GaugeMetricFamily(
            "shipyard_inference_log_queue",
            "requests waiting in the inference log queue",
            value=self._pending(),
        )


class ServerMetrics:
    def __init__(self) -> None:
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
        self.loaded = Gauge("shipyard_models_loaded", "model versions held in memory", registry=self.registry)
        self.loaded_bytes = Gauge(
            "shipyard_models_loaded_bytes", "estimated memory of the loaded versions", registry=self.registry
        )
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

    def watch_log(self, stats: Callable[[], Mapping[str, int]], pending: Callable[[], int]) -> None:
        self.registry.register(_LogCollector(stats, pending))
