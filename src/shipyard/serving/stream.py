"""Streaming scoring: a consumer in a Redis Streams consumer group, at least once, without
duplicates in the output.

Each input entry holds one row as JSON in its ``data`` field. A consumer:

1. on start, re-reads its own pending entries (``XREADGROUP … 0``): those it read before a crash;
2. claims entries other consumers left pending longer than ``claim_idle_ms`` (``XAUTOCLAIM``);
3. reads new entries (``XREADGROUP … >``), scores them as one batch, and writes each score to the
   output stream together with a marker keyed by the input entry id, in one Lua script: an entry
   whose marker exists is not written again, so a redelivery never duplicates;
4. acknowledges (``XACK``) only after its outputs are written.

Entries that cannot be scored (not JSON, a missing or mistyped column) or were delivered more than
``max_deliveries`` times go to the dead-letter stream ``<input>:dead`` with the error, then are
acknowledged. Markers expire after ``marker_ttl`` seconds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from shipyard.errors import InvalidInput, ShipyardError
from shipyard.serving.batch import Scorer
from shipyard.serving.runtime.payloads import check_columns

# KEYS: output stream, then one marker key per entry; ARGV: ttl, model, version, then (id, data)*.
_WRITE = """
local written = 0
for i = 2, #KEYS do
  local a = 4 + (i - 2) * 2
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', KEYS[1], '*', 'input_id', ARGV[a], 'model', ARGV[2], 'version', ARGV[3], 'data', ARGV[a + 1])
    written = written + 1
  end
end
return written
"""


@dataclass
class StreamStats:
    read: int = 0
    scored: int = 0  # outputs written
    duplicates: int = 0  # redeliveries whose output already existed
    dead: int = 0
    claimed: int = 0
    lag: int = 0  # entries not yet delivered to the group
    pending: int = 0  # delivered, not acknowledged
    started: float = field(default_factory=time.monotonic)


@dataclass
class StreamScorer:
    redis: Any  # redis.Redis
    model: Scorer
    model_name: str
    version: int
    input_stream: str
    output_stream: str
    group: str
    consumer: str
    batch: int = 100
    block_ms: int = 1000
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    marker_ttl: int = 7 * 24 * 3600
    on_batch: Callable[[StreamStats], None] = field(default=lambda stats: None)
    stats: StreamStats = field(default_factory=StreamStats)

    def __post_init__(self) -> None:
        for name in ("input_stream", "output_stream", "group", "consumer"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value or len(value) > 200:
                raise InvalidInput(f"{name.replace('_', '-')} must be 1-200 characters", field=name)
        if not 1 <= self.batch <= 10_000:
            raise InvalidInput("batch must be 1-10000 entries", field="batch")
        self._write = self.redis.register_script(_WRITE)
        self._specs = tuple((c.name, c.dtype) for c in getattr(self.model.signature, "inputs", ()))
        self._own_pending = True

    @property
    def dead_letter(self) -> str:
        return f"{self.input_stream}:dead"

    def marker(self, entry_id: str) -> str:
        return f"{self.output_stream}:scored:{entry_id}"

    def ensure_group(self) -> None:
        import redis

        try:
            self.redis.xgroup_create(self.input_stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def run(self, stop: threading.Event | None = None, *, idle_exit: bool = False) -> StreamStats:
        """Consume until ``stop`` is set (or, with ``idle_exit``, until nothing is left to read)."""
        self.ensure_group()
        while stop is None or not stop.is_set():
            handled = self.step()
            if idle_exit and handled == 0 and self.stats.pending == 0 and self.stats.lag == 0:
                break
        return self.stats

    def step(self) -> int:
        """One round: own pending entries (after a restart), claimed ones, then new ones."""
        entries: list[tuple[str, dict[str, str]]] = []
        if self._own_pending:
            entries = self._read("0")
            if not entries:
                self._own_pending = False
        if not entries:
            entries = self._claim()
        if not entries:
            entries = self._read(">", block=True)
        if entries:
            self._handle(entries)
        self._measure()
        self.on_batch(self.stats)
        return len(entries)

    def _read(self, start: str, *, block: bool = False) -> list[tuple[str, dict[str, str]]]:
        reply = self.redis.xreadgroup(
            self.group,
            self.consumer,
            {self.input_stream: start},
            count=self.batch,
            block=self.block_ms if block else None,
        )
        found = [(_text(i), _fields(f)) for _, items in reply or [] for i, f in items if f is not None]
        self.stats.read += len(found)
        return found

    def _claim(self) -> list[tuple[str, dict[str, str]]]:
        reply = self.redis.xautoclaim(
            self.input_stream, self.group, self.consumer, self.claim_idle_ms, "0-0", count=self.batch
        )
        claimed = [(_text(i), _fields(f)) for i, f in reply[1] if f is not None]
        if claimed:
            self.stats.claimed += len(claimed)
            over = self._over_delivered([i for i, _ in claimed])
            if over:
                self._dead([(i, f) for i, f in claimed if i in over], "delivered too many times")
                claimed = [(i, f) for i, f in claimed if i not in over]
        return claimed

    def _over_delivered(self, ids: Sequence[str]) -> set[str]:
        rows = self.redis.xpending_range(
            self.input_stream, self.group, min=ids[0], max=ids[-1], count=len(ids) * 2
        )
        return {_text(r["message_id"]) for r in rows if r["times_delivered"] > self.max_deliveries} & set(ids)

    def _handle(self, entries: list[tuple[str, dict[str, str]]]) -> None:
        good: list[tuple[str, dict[str, Any]]] = []
        bad: list[tuple[str, dict[str, str], str]] = []
        for entry_id, fields in entries:
            try:
                row = json.loads(fields.get("data", ""))
                if not isinstance(row, dict):
                    raise ValueError("data must be a JSON object")
                good.append((entry_id, row))
            except ValueError as exc:
                bad.append((entry_id, fields, f"not a JSON row: {exc}"))
        outputs: list[tuple[str, str]] = []
        if good:
            outputs, failed = self._score(good)
            by_id = dict(entries)
            bad.extend((i, by_id[i], reason) for i, reason in failed)
        if outputs:
            keys = [self.output_stream, *(self.marker(i) for i, _ in outputs)]
            args: list[Any] = [self.marker_ttl, self.model_name, self.version]
            for entry_id, data in outputs:
                args += [entry_id, data]
            written = int(self._write(keys=keys, args=args))
            self.stats.scored += written
            self.stats.duplicates += len(outputs) - written
        if bad:
            self._dead([(i, f) for i, f, _ in bad], [r for _, _, r in bad])
        if outputs:
            self.redis.xack(self.input_stream, self.group, *[i for i, _ in outputs])

    def _score(
        self, good: list[tuple[str, dict[str, Any]]]
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        try:
            columns = check_columns(self._specs, _columns([row for _, row in good]))
            predictions = self.model.predict(pd.DataFrame(columns)).tolist()
            return [
                (i, json.dumps({"prediction": p})) for (i, _), p in zip(good, predictions, strict=True)
            ], []
        except ShipyardError:
            if len(good) == 1:
                raise
        outputs, failed = [], []
        for entry_id, row in good:  # one bad row must not hold back the others
            try:
                one = self._score([(entry_id, row)])[0]
                outputs.extend(one)
            except ShipyardError as exc:
                failed.append((entry_id, exc.message))
        return outputs, failed

    def _dead(self, entries: Sequence[tuple[str, dict[str, str]]], reasons: Sequence[str] | str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        for n, (entry_id, fields) in enumerate(entries):
            reason = reasons if isinstance(reasons, str) else reasons[n]
            pipe.xadd(
                self.dead_letter, {"input_id": entry_id, "error": reason, "data": fields.get("data", "")}
            )
            pipe.xack(self.input_stream, self.group, entry_id)
        pipe.execute()
        self.stats.dead += len(entries)

    def _measure(self) -> None:
        for info in self.redis.xinfo_groups(self.input_stream):
            if _text(info["name"]) == self.group:
                self.stats.pending = int(info.get("pending") or 0)
                lag = info.get("lag")
                self.stats.lag = int(lag) if lag is not None else 0


def _columns(rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return {name: [row.get(name) for row in rows] for name in names}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _fields(fields: dict[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in fields.items()}


def stream_metrics(stats: StreamStats, stream: str) -> Any:
    """A Prometheus collector registry exposing ``stats`` (lag, pending, throughput)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.registry import Collector

    class _Collector(Collector):
        def collect(self) -> Any:
            labels = ["stream"]
            for name, doc, value in (
                ("read", "entries read from the input stream", stats.read),
                ("scored", "scores written to the output stream", stats.scored),
                ("duplicates", "redelivered entries whose score already existed", stats.duplicates),
                ("dead", "entries sent to the dead-letter stream", stats.dead),
                ("claimed", "entries claimed from consumers that stopped", stats.claimed),
            ):
                family = CounterMetricFamily(f"shipyard_stream_{name}", doc, labels=labels)
                family.add_metric([stream], value)
                yield family
            elapsed = max(time.monotonic() - stats.started, 1e-9)
            for name, doc, level in (
                ("lag", "entries not yet delivered to the consumer group", stats.lag),
                ("pending", "entries delivered and not yet acknowledged", stats.pending),
                ("throughput", "scores written per second since start", stats.scored / elapsed),
            ):
                gauge = GaugeMetricFamily(f"shipyard_stream_{name}", doc, labels=labels)
                gauge.add_metric([stream], float(level))
                yield gauge

    registry = CollectorRegistry()
    registry.register(_Collector())
    return registry
