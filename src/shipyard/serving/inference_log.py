"""The inference log: every prediction, appended in the background as Parquet partitions in the
artifact store, one file per flush, deployment and hour::

    inference-log/<deployment>/<YYYY-MM-DDTHH>/part-<epoch ms>-<id>.parquet

One row per predicted row: ``request_id``, ``row`` (its index in the request), ``time`` (epoch ms),
``deployment``, ``model``, ``version``, ``role`` (primary, challenger or shadow), ``latency_ms``,
``inputs`` (JSON object: the row as sent, plus fetched features), ``features`` (JSON object: what the
feature service returned), ``output`` (JSON).

:meth:`InferenceLog.append` only appends the entry to a deque (no lock, no thread woken per
request); a background thread takes what has gathered every few milliseconds, groups, encodes and
writes. A write that fails is retried; if it still fails the file goes to a local spill folder and
is uploaded again on later flushes. A prediction never waits for or fails because of the log.
:meth:`InferenceLog.close` (called on SIGTERM) drains the queue.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.storage.artifacts.base import ArtifactStore

PREFIX = "inference-log"
TICK_SECONDS = 0.05  # how often the writer collects what requests appended
SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("row", pa.int32()),
        ("time", pa.int64()),
        ("deployment", pa.string()),
        ("model", pa.string()),
        ("version", pa.int32()),
        ("role", pa.string()),
        ("latency_ms", pa.float32()),
        ("inputs", pa.string()),
        ("features", pa.string()),
        ("output", pa.string()),
    ]
)


@dataclass(frozen=True)
class Entry:
    """One request's predictions, as the server hands them over (columns, not rows)."""

    request_id: str
    time_ms: int
    deployment: str
    model: str
    version: int
    role: str
    latency_ms: float
    inputs: Mapping[str, Sequence[Any]]
    features: Mapping[str, Sequence[Any]] | None
    outputs: Sequence[Any]


def partition_key(deployment: str, time_ms: int) -> str:
    hour = datetime.fromtimestamp(time_ms / 1000, UTC).strftime("%Y-%m-%dT%H")
    return f"{PREFIX}/{deployment}/{hour}"


def _dumps(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY, default=str).decode()


def encode(entries: Sequence[Entry]) -> pa.Table:
    cols: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    for e in entries:
        names = list(e.inputs)
        fnames = list(e.features or {})
        for i, output in enumerate(e.outputs):
            row = {n: e.inputs[n][i] for n in names}
            features = {n: e.features[n][i] for n in fnames} if e.features else {}
            row.update(features)
            cols["request_id"].append(e.request_id)
            cols["row"].append(i)
            cols["time"].append(e.time_ms)
            cols["deployment"].append(e.deployment)
            cols["model"].append(e.model)
            cols["version"].append(e.version)
            cols["role"].append(e.role)
            cols["latency_ms"].append(e.latency_ms)
            cols["inputs"].append(_dumps(row))
            cols["features"].append(_dumps(features) if e.features else None)
            cols["output"].append(_dumps(output))
    return pa.table(cols, schema=SCHEMA)


class InferenceLog:
    """Background writer of the inference log (see the module docstring). ``stats`` counts rows
    queued, written, spilled, dropped (queue full) and failed writes, read by ``/metrics``."""

    def __init__(
        self,
        store: ArtifactStore,
        *,
        spill_dir: Path,
        flush_rows: int = 5_000,
        flush_seconds: float = 2.0,
        max_queue: int = 200_000,
        retries: int = 3,
        retry_delay: float = 0.2,
    ) -> None:
        self.store = store
        self.spill_dir = Path(spill_dir)
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.retries = retries
        self.retry_delay = retry_delay
        self.max_queue = max_queue
        self._pending: deque[Entry] = deque()
        self._held = 0  # entries the writer took and has not written yet
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stats_lock = threading.Lock()
        self.stats = {"queued": 0, "written": 0, "spilled": 0, "dropped": 0, "failed_writes": 0, "files": 0}

    def _count(self, key: str, n: int = 1) -> None:
        with self._stats_lock:
            self.stats[key] += n

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="shipyard-inference-log", daemon=True)
            self._thread.start()

    def append(self, entry: Entry) -> None:
        """Queue one request's predictions; never blocks, never raises."""
        if len(self._pending) + self._held >= self.max_queue:
            self._count("dropped", len(entry.outputs))
            return
        self._pending.append(entry)  # deque.append is atomic: the writer pops from the other end
        self._count("queued", len(entry.outputs))

    def pending(self) -> int:
        return len(self._pending) + self._held

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, then stop the thread."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout)
        self._thread = None

    # -- the background thread ------------------------------------------------------------------

    def _run(self) -> None:
        batch: list[Entry] = []
        rows = 0
        deadline = time.monotonic() + self.flush_seconds
        while True:
            stopping = self._stop.wait(max(0.0, min(TICK_SECONDS, deadline - time.monotonic())))
            while self._pending and rows < self.flush_rows:
                entry = self._pending.popleft()
                batch.append(entry)
                rows += len(entry.outputs)
            self._held = len(batch)
            if stopping or rows >= self.flush_rows or time.monotonic() >= deadline:
                self.flush(batch)
                batch, rows, self._held = [], 0, 0
                deadline = time.monotonic() + self.flush_seconds
            if stopping and not self._pending:  # a stop drains everything, a flush at a time
                return

    def flush(self, entries: Sequence[Entry]) -> None:
        """Write ``entries`` (one file per deployment and hour), then retry spilled files."""
        groups: dict[str, list[Entry]] = {}
        for e in entries:
            groups.setdefault(partition_key(e.deployment, e.time_ms), []).append(e)
        for prefix, group in groups.items():
            try:
                table = encode(group)
            except Exception:  # a value the encoder cannot take: count it, never crash the thread
                self._count("failed_writes")
                continue
            key = f"{prefix}/part-{group[0].time_ms}-{uuid.uuid4().hex[:12]}.parquet"
            buffer = io.BytesIO()
            pq.write_table(table, buffer, compression="zstd")
            data = buffer.getvalue()
            if self._write(key, data):
                self._count("written", table.num_rows)
                self._count("files")
            else:
                path = self.spill_dir / key
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(data)
                tmp.replace(path)
                self._count("spilled", table.num_rows)
        self._retry_spilled()

    def _write(self, key: str, data: bytes) -> bool:
        for attempt in range(self.retries):
            try:
                self.store.put_bytes(key, data)
                return True
            except Exception:  # any store failure: retried, then spilled
                self._count("failed_writes")
                if attempt + 1 < self.retries:
                    time.sleep(self.retry_delay * (attempt + 1))
        return False

    def _retry_spilled(self, limit: int = 20) -> None:
        if not self.spill_dir.exists():
            return
        for path in sorted(self.spill_dir.rglob("*.parquet"))[:limit]:
            key = path.relative_to(self.spill_dir).as_posix()
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # another worker uploaded it
                continue
            try:
                self.store.put_bytes(key, data)
            except Exception:  # still failing: keep the file for the next flush
                self._count("failed_writes")
                return
            rows = pq.read_metadata(io.BytesIO(data)).num_rows
            path.unlink(missing_ok=True)
            self._count("written", rows)
            self._count("files")
