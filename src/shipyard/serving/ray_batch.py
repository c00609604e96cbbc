"""Batch scoring on a Ray cluster with Ray Data: the same job as :func:`~shipyard.serving.batch.score_file`
for inputs that outgrow one machine. Workers read the Parquet input in blocks, score them with
the model (shipped once through the object store) and write parts; the parts are then streamed
into the one output file, in input order."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.serving.batch import Progress, Scorer, open_input, with_predictions


class _Score:
    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, table: pa.Table) -> pa.Table:
        if table.num_rows == 0:
            return table
        (batch,) = table.combine_chunks().to_batches()
        scored = with_predictions(batch, self.model.predict(batch.to_pandas()), self.model.signature)
        return pa.Table.from_batches([scored])


def score_file_ray(
    model: Scorer,
    input: Path,
    output: Path,
    *,
    chunk_rows: int = 65_536,
    progress: Progress | None = None,
    concurrency: int | None = None,
) -> tuple[int, float]:
    """Score ``input`` into ``output`` on the Ray cluster ``ray.init`` connected to (a local one
    is started if none is)."""
    import ray

    source = open_input(input)
    total = source.metadata.num_rows
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    if concurrency is None:  # leave one CPU to the read tasks, or the scorers starve them
        concurrency = max(1, int(ray.cluster_resources().get("CPU", 2)) - 1)  # type: ignore[no-untyped-call]
    began = time.perf_counter()
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    parts = output.with_name(f".{output.name}.parts")
    shutil.rmtree(parts, ignore_errors=True)
    partial = output.with_name(f".{output.name}.partial")
    try:
        dataset = ray.data.read_parquet(str(input.resolve())).map_batches(
            _Score,
            fn_constructor_args=(model,),
            batch_size=chunk_rows,
            batch_format="pyarrow",
            concurrency=concurrency,
            num_cpus=1,
        )
        done = 0
        writer: pq.ParquetWriter | None = None
        try:
            for table in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
                assert isinstance(table, pa.Table)
                if writer is None:
                    writer = pq.ParquetWriter(partial, table.schema)
                writer.write_table(table)
                done += table.num_rows
                if progress is not None:
                    progress(done, total)
            if writer is None:
                writer = pq.ParquetWriter(partial, source.schema_arrow)
        finally:
            if writer is not None:
                writer.close()
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(parts, ignore_errors=True)
    return done, time.perf_counter() - began
