"""The demo's scoring part: score a batch file with the champion (recorded as a run with its input
and output digests) and a short stream.

Stream scoring is a Redis Streams consumer group; there is no embedded stream, so the demo scores
one when it is given a Redis (``SHIPYARD_DEMO_REDIS_URL``, or an online store on Redis) and
otherwise says in one line that it skipped it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shipyard.demo.models import FEATURES
from shipyard.demo.names import SCORED_FILE
from shipyard.demo.registry_stage import MODEL

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.app import App

STREAM_ENTRIES = 50
#: Environment variable naming the Redis the demo may score a stream on.
REDIS_ENV = "SHIPYARD_DEMO_REDIS_URL"


@dataclass(frozen=True)
class ScoringOutcome:
    batch_input: Path
    batch_output: Path
    batch_rows: int
    batch_run_id: str | None
    stream: str | None  # the input stream, None when the stream step was skipped
    stream_entries: int
    stream_scored: int


def redis_url_for(online_store: str | None, configured: str | None) -> str | None:
    """The Redis the stream step may use: the one configured for the demo, else a Redis online store."""
    if configured:
        return configured
    if online_store and online_store.startswith(("redis://", "rediss://", "unix://")):
        return online_store
    return None


def run_scoring_stage(
    app: App,
    model_ref: str,
    batch_input: Path,
    stream_rows: pd.DataFrame,
    redis_url: str | None,
    console: Console,
) -> ScoringOutcome:
    """Score ``batch_input`` with ``model_ref`` (``churn@champion``) into the data folder, then
    ``stream_rows`` through a Redis stream."""
    from shipyard.app import RegistryModelSource, TrackingScoringRecorder
    from shipyard.serving import batch
    from shipyard.serving.sources import parse_model_ref

    source = RegistryModelSource(app)
    version = source.resolve(*parse_model_ref(model_ref))
    loaded = source.load(MODEL, version)
    output = batch_input.with_name(SCORED_FILE)
    columns = (TextColumn(f"Batch scoring {MODEL}/{version}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("batch", total=None)
        result = batch.score(
            loaded, MODEL, version, batch_input, output,
            recorder=TrackingScoringRecorder(app.tracking), chunk_rows=4096,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )  # fmt: skip
    console.print(
        f"Batch: scored {result.rows:,} rows of {escape(batch_input.name)} with {MODEL}/{version} in "
        f"{result.seconds:.1f} s -> {escape(str(output))} (run {result.run_id})"
    )
    stream, scored = None, 0
    entries = min(STREAM_ENTRIES, len(stream_rows))
    if redis_url is None:
        console.print(
            f"[dim]Stream scoring skipped: it needs Redis (set {REDIS_ENV}=redis://127.0.0.1:6379/0).[/]"
        )
    else:
        rows = json.loads(stream_rows[list(FEATURES)].head(entries).to_json(orient="records"))
        stream, scored = score_stream(redis_url, loaded, version, rows)
        console.print(
            f"Stream: {scored} of {entries} entries of {escape(stream)} scored into {escape(stream)}:scores "
            "(consumer group demo-scorers)."
        )
    return ScoringOutcome(batch_input, output, result.rows, result.run_id, stream, entries, scored)


def score_stream(url: str, model: object, version: int, rows: list[dict[str, object]]) -> tuple[str, int]:
    """Write ``rows`` to a new input stream and consume it to the end; returns (stream, scored)."""
    import redis

    from shipyard.serving.stream import StreamScorer

    connection = redis.Redis.from_url(url)
    try:
        stream = f"shipyard-demo:{MODEL}:{time.time_ns()}"
        for row in rows:
            connection.xadd(stream, {"data": json.dumps(row)})
        scorer = StreamScorer(
            connection, model, MODEL, version, stream, f"{stream}:scores", "demo-scorers", "demo-1",  # type: ignore[arg-type]
            batch=20, block_ms=100,
        )  # fmt: skip
        stats = scorer.run(idle_exit=True)
        return stream, stats.scored
    finally:
        connection.close()
