"""The inference log's queue: appending is cheap and never blocks, closing writes every row
appended, and a full queue drops (and counts) rather than grow without bound."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pyarrow.parquet as pq

from shipyard.serving.inference_log import Entry, InferenceLog
from shipyard.storage.artifacts.memory import MemoryArtifactStore


def _entry(i: int, rows: int = 1) -> Entry:
    return Entry(
        f"req-{i}", 1_700_000_000_000, "churn", "churn", 1, "primary", 1.5,
        {"x": list(range(rows))}, None, [i] * rows,
    )  # fmt: skip


def _logged(store: MemoryArtifactStore) -> list[str]:
    ids: list[str] = []
    for key in store.list("inference-log/"):
        with store.open(key) as handle:
            ids += pq.read_table(io.BytesIO(handle.read())).column("request_id").to_pylist()
    return ids


def test_close_writes_every_appended_row_in_files_of_at_most_flush_rows(tmp_path: Path) -> None:
    store = MemoryArtifactStore()
    log = InferenceLog(store, spill_dir=tmp_path, flush_rows=300, flush_seconds=60)
    log.start()
    for i in range(1_000):
        log.append(_entry(i))
    log.close()
    ids = _logged(store)
    assert sorted(ids) == sorted(f"req-{i}" for i in range(1_000))
    assert log.stats["queued"] == log.stats["written"] == 1_000
    assert log.stats["files"] >= 4  # 1,000 rows in files of at most 300 rows
    assert log.pending() == 0


def test_rows_are_written_within_the_flush_interval_without_closing(tmp_path: Path) -> None:
    store = MemoryArtifactStore()
    log = InferenceLog(store, spill_dir=tmp_path, flush_seconds=0.1)
    log.start()
    log.append(_entry(7, rows=3))
    deadline = time.monotonic() + 5
    while log.stats["written"] < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _logged(store) == ["req-7"] * 3
    log.close()


def test_a_full_queue_drops_and_counts_the_rows(tmp_path: Path) -> None:
    store = MemoryArtifactStore()
    log = InferenceLog(store, spill_dir=tmp_path, max_queue=10)  # not started: nothing drains
    for i in range(15):
        log.append(_entry(i, rows=2))
    assert log.pending() == 10
    assert log.stats["queued"] == 20 and log.stats["dropped"] == 10
    log.start()
    log.close()
    assert len(_logged(store)) == 20
