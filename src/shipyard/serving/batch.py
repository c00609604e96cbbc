"""Batch scoring: a Parquet file in, the same rows with their predictions out, streamed as Arrow
record batches so memory stays bounded by the chunk size whatever the file's size.

The output holds the input's columns followed by the model's output columns (``prediction`` or
``prediction_0`` …), written to a temporary name and renamed when complete, so a failed job
leaves nothing half-written. The job is recorded through a
:class:`~shipyard.serving.ports.ScoringRecorder`: input digest -> model version -> output digest.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.errors import InvalidInput
from shipyard.serving.ports import ScoringRecorder

DEFAULT_CHUNK_ROWS = 65_536
Progress = Callable[[int, int], None]  # rows done, rows in total


class Scorer(Protocol):
    """What batch scoring needs of a loaded model (``LoadedModel`` has it)."""

    @property
    def signature(self) -> object: ...

    def predict(self, frame: pd.DataFrame) -> np.ndarray: ...


@dataclass(frozen=True)
class ScoringResult:
    rows: int
    seconds: float
    input_digest: str
    output_digest: str
    output: Path
    run_id: str | None = None


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            sha.update(block)
    return f"sha256:{sha.hexdigest()}"


def output_names(signature: object, width: int) -> list[str]:
    outputs = [c.name for c in getattr(signature, "outputs", ())]
    if len(outputs) == width:
        return outputs
    return ["prediction"] if width == 1 else [f"prediction_{i}" for i in range(width)]


def with_predictions(batch: pa.RecordBatch, predictions: np.ndarray, signature: object) -> pa.RecordBatch:
    """``batch`` plus the prediction columns."""
    values = np.asarray(predictions)
    columns = [values] if values.ndim == 1 else [values[:, i] for i in range(values.shape[1])]
    names = output_names(signature, len(columns))
    clash = [n for n in names if n in batch.schema.names]
    if clash:
        raise InvalidInput(f"the input already has a column named {clash[0]!r}", field="input")
    arrays = [*batch.columns, *(pa.array(c) for c in columns)]
    return pa.RecordBatch.from_arrays(arrays, names=[*batch.schema.names, *names])


def open_input(path: Path) -> pq.ParquetFile:
    if not path.exists():
        raise InvalidInput(f"input file {str(path)!r} does not exist", field="input")
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"input file {str(path)!r} is not a Parquet file: {exc}", field="input") from None


def chunks(source: pq.ParquetFile, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    yield from source.iter_batches(batch_size=chunk_rows)


def score_file(
    model: Scorer,
    input: Path,
    output: Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: Progress | None = None,
) -> tuple[int, float]:
    """Score ``input`` into ``output`` chunk by chunk; (rows, seconds). A thread writes while the
    next chunk is scored (Arrow releases the GIL while it encodes); at most two scored chunks wait
    for it, so memory stays bounded."""
    source = open_input(input)
    total = source.metadata.num_rows
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    began = time.perf_counter()
    done = 0
    writer = _Writer(partial)
    try:
        for batch in chunks(source, chunk_rows):
            writer.put(with_predictions(batch, model.predict(batch.to_pandas()), model.signature))
            done += batch.num_rows
            if progress is not None:
                progress(done, total)
        writer.close(source.schema_arrow)
        partial.replace(output)
    finally:
        writer.abort()
        partial.unlink(missing_ok=True)
    return done, time.perf_counter() - began


def open_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """A Parquet writer that dictionary-encodes only text columns. Trying a dictionary on every
    numeric column (Arrow's default) makes writing the output three times slower than reading the
    input and scoring it; numbers are compressed (snappy) instead."""
    text = [
        f.name
        for f in schema
        if pa.types.is_string(f.type)
        or pa.types.is_large_string(f.type)
        or pa.types.is_binary(f.type)
        or pa.types.is_dictionary(f.type)
    ]
    return pq.ParquetWriter(path, schema, use_dictionary=text or False)


class _Writer:
    """Writes record batches to a Parquet file in a background thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.queue: queue.Queue[pa.RecordBatch | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.writer: pq.ParquetWriter | None = None
        self.thread = threading.Thread(target=self._run, name="shipyard-batch-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while (batch := self.queue.get()) is not None:
                if self.writer is None:
                    self.writer = open_writer(self.path, batch.schema)
                self.writer.write_batch(batch)
        except BaseException as exc:  # handed to the scoring thread at its next put
            self.error = exc
            while self.queue.get() is not None:  # drain so the producer never blocks
                pass

    def put(self, batch: pa.RecordBatch) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(batch)

    def close(self, schema: pa.Schema) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error
        if self.writer is None:  # an empty input: an empty output with the input's columns
            self.writer = open_writer(self.path, schema)
        self.writer.close()
        self.writer = None

    def abort(self) -> None:
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def score(
    model: Scorer,
    model_name: str,
    version: int,
    input: Path,
    output: Path,
    *,
    recorder: ScoringRecorder | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: Progress | None = None,
    runner: Callable[..., tuple[int, float]] = score_file,
) -> ScoringResult:
    """Score a file and record the job as a run (when a recorder is given)."""
    if chunk_rows < 1:
        raise InvalidInput("chunk size must be at least 1 row", field="chunk_rows")
    open_input(input)
    input_digest = file_digest(input)
    run_id = None
    if recorder is not None:
        run_id = recorder.start(model_name, version, input_name=str(input), input_digest=input_digest)
    try:
        rows, seconds = runner(model, input, output, chunk_rows=chunk_rows, progress=progress)
    except BaseException:
        if recorder is not None and run_id is not None:
            recorder.finish(run_id, output_name=str(output), output_digest="", rows=0, seconds=0.0, ok=False)
        raise
    output_digest = file_digest(output)
    if recorder is not None and run_id is not None:
        recorder.finish(
            run_id, output_name=str(output), output_digest=output_digest, rows=rows, seconds=seconds, ok=True
        )
    return ScoringResult(rows, seconds, input_digest, output_digest, output, run_id)
