"""One scheduler tick over a fleet of monitors: ``BENCH_MONITORS`` (1,000) deployments of a
20-feature classifier, each with an hour of ``BENCH_MONITOR_ROWS`` (10,000) predictions in its
inference log and a monitor due now. The tick reads each window from the log, scores it (for the
estimated performance and prediction drift), runs every check (quality, drift on 20 columns,
prediction drift, estimated performance, operations, stability, age), stores the evaluation and
moves the rules. Target: under 60 s.

Set-up (not timed): one monitor is created through the service (its reference prepared once);
the others are its copies in the monitors table under other names and deployments, sharing the
prepared reference, as monitors of the same model share it in production. Each deployment's log
is one Parquet part written by the serving domain's encoder.
"""

from __future__ import annotations

import io
import os
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.linear_model import LogisticRegression
from sqlalchemy import select, update

from common import Result, embedded_client
from shipyard.core.ids import new_id
from shipyard.monitoring.model import MonitorSpec, Window
from shipyard.monitoring.records import monitors_t
from shipyard.serving.inference_log import Entry, encode, partition_key

MONITORS = int(os.environ.get("BENCH_MONITORS", "1000"))
ROWS = int(os.environ.get("BENCH_MONITOR_ROWS", "10000"))
FEATURES = [f"f{i}" for i in range(20)]
HOUR = 3_600_000
T0 = 1_772_323_200_000  # 2026-03-01 00:00 UTC


def _frame(rng: np.random.Generator, rows: int, shift: float = 0.0) -> pd.DataFrame:
    data = {f: rng.normal(shift if i % 4 == 0 else 0.0, 1.0, rows) for i, f in enumerate(FEATURES[:16])}
    for f in FEATURES[16:]:
        data[f] = rng.integers(0, 4, rows).astype(float)  # low-cardinality columns: the categorical path
    return pd.DataFrame(data)


def run() -> list[Result]:
    rng = np.random.default_rng(0)
    train = _frame(rng, 5000)
    label = (train["f0"] + train["f1"] + rng.normal(0, 1, len(train)) > 0).astype(int)
    model = LogisticRegression(max_iter=300).fit(train, label)
    with embedded_client() as client:
        app = client._local_app("benchmark")
        with client.start_run(experiment="fleet") as run:
            run.log_model(model, "model", input_example=train.head(5))
        app.registry.create_version("fleet", run.id, actor="bench")
        reference = app.settings.home / "reference.parquet"
        train.assign(label=label).to_parquet(reference)

        window = _frame(rng, ROWS, shift=0.4)
        predictions = model.predict(window)
        records = window.to_dict("records")
        entries = [
            Entry(f"r{j}", T0 + 1000 + j * (HOUR - 2000) // ROWS, "d0000", "fleet", 1, "primary", 3.0,
                  {k: [v] for k, v in records[j].items()}, None, [int(predictions[j])])
            for j in range(ROWS)
        ]  # fmt: skip
        base = encode(entries)
        column = base.schema.get_field_index("deployment")
        for i in range(MONITORS):
            name = f"d{i:04d}"
            app.deployments.deploy(name, "fleet@1", actor="bench")
            table = base.set_column(column, "deployment", pa.array([name] * ROWS, pa.string()))
            buffer = io.BytesIO()
            pq.write_table(table, buffer, compression="zstd")
            app.content.store.put_bytes(
                f"{partition_key(name, T0)}/part-{T0}-bench.parquet", buffer.getvalue()
            )

        app.monitoring.create(
            MonitorSpec(name="m0000", deployment="d0000", reference=str(reference), target="label",
                        window=Window("time", 3600), schedule="0 * * * *"),
            actor="bench",
        )  # fmt: skip
        with app.db.write() as conn:
            first = conn.execute(select(monitors_t).where(monitors_t.c.name == "m0000")).one()._asdict()
            copies = [
                {**first, "id": new_id(), "name": f"m{i:04d}", "deployment": f"d{i:04d}"}
                for i in range(1, MONITORS)
            ]
            if copies:
                conn.execute(monitors_t.insert(), copies)
            conn.execute(update(monitors_t).values(next_due_at=T0 + HOUR))
        app.alerts.create_rule("m0000", "drift", "drift.share", ">=", 0.5, actor="bench")

        started = time.perf_counter()
        cpu = time.process_time()
        evaluations, errors = app.monitoring.run_due(T0 + HOUR)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu
        assert not errors, errors[:3]
        assert len(evaluations) == MONITORS and all(e.rows == ROWS for e in evaluations)
        drifted = sum(1 for e in evaluations if e.figures.get("drift.dataset") == 1.0)
    return [
        Result(
            f"monitor tick: {MONITORS} monitors x {ROWS} rows x 20 columns",
            seconds,
            "s",
            target=60.0 * MONITORS / 1000,
            note=f"{seconds / MONITORS * 1000:.0f} ms per monitor, {cpu_seconds:.0f} CPU s; {drifted} drifted",
        )
    ]
