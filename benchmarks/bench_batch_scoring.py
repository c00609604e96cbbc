"""Batch scoring: ``SHIPYARD_BENCH_BATCH_ROWS`` rows (default 10,000,000) in a Parquet file scored
chunk by chunk into another (``shipyard.serving.batch.score_file``), in a child process whose peak
RSS is reported. Compared with calling ``model.predict`` directly on the same chunks (read, no
write): the target is throughput within 20% of it, with memory bounded by the chunk size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from common import Result
from serving_model import frame, train

ROWS = int(os.environ.get("SHIPYARD_BENCH_BATCH_ROWS", "10000000"))
CHUNK = 262_144

CHILD = r"""
import json, resource, sys, time
import pyarrow.parquet as pq
from shipyard.packaging.package import load_model
from shipyard.serving.batch import score_file
mode, package, source, out, chunk = sys.argv[1:6]
model = load_model(open(package, "rb").read(), trust_pickle=False)
began = time.perf_counter()
if mode == "shipyard":
    from pathlib import Path
    rows, _ = score_file(model, Path(source), Path(out), chunk_rows=int(chunk))
else:
    rows = 0
    for batch in pq.ParquetFile(source).iter_batches(batch_size=int(chunk)):
        model.predict(batch.to_pandas())
        rows += batch.num_rows
seconds = time.perf_counter() - began
print(json.dumps({"rows": rows, "seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_input(path: Path) -> None:
    writer = None
    done = 0
    while done < ROWS:
        n = min(1_000_000, ROWS - done)
        table = pa.Table.from_pandas(frame(n, seed=done), preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=CHUNK)
        done += n
    if writer is not None:
        writer.close()


def child(mode: str, package: Path, source: Path, out: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(package), str(source), str(out), str(CHUNK)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def run() -> list[Result]:
    from shipyard.packaging.package import build_package

    with tempfile.TemporaryDirectory(prefix="shipyard-bench-batch-") as folder:
        tmp = Path(folder)
        package = tmp / "model.zip"
        package.write_bytes(build_package(train(), input_example=frame(5))[0])
        source = tmp / "in.parquet"
        began = time.perf_counter()
        write_input(source)
        written = time.perf_counter() - began
        ours = child("shipyard", package, source, tmp / "out.parquet")
        direct = child("direct", package, source, tmp / "unused")
    ours_rate = ours["rows"] / ours["seconds"]
    direct_rate = direct["rows"] / direct["seconds"]
    note = f"{ROWS:,} rows in chunks of {CHUNK:,} (input written in {written:.0f} s)"
    return [
        Result("batch: rows/s scored to Parquet", ours_rate, "rows/s", note=note),
        Result("batch: rows/s of model.predict on the same chunks", direct_rate, "rows/s"),
        Result("batch: slowdown against direct predict", (1 - ours_rate / direct_rate) * 100, "%", 20),
        Result(
            "batch: peak RSS of the scoring process",
            ours["peak_mb"],
            "MB",
            1024,
            f"direct: {direct['peak_mb']:.0f} MB",
        ),
    ]
