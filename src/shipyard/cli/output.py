"""Rendering shared by every command: consoles, tables, ``--json`` emission and formatting.

Commands print human output with Rich on stdout, progress and warnings on stderr, and with
``--json`` exactly one JSON document on stdout and nothing else. JSON keys are stable; times are
ISO-8601 in UTC, durations are seconds, NaN metric values are ``null`` and infinities are the
strings ``"Infinity"``/``"-Infinity"`` so the output is strict JSON.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from shipyard.tracking.model import Metric, Run, RunEnvironment, RunStatus

#: Human output. Rich looks up ``sys.stdout`` at print time, so test runners that swap it work.
console = Console(highlight=False)
#: Progress, warnings and notes that must not mix with machine-readable stdout.
err_console = Console(stderr=True, highlight=False)

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON to stdout instead of tables.")
]

STATUS_STYLES = {
    RunStatus.RUNNING: "cyan",
    RunStatus.FINISHED: "green",
    RunStatus.FAILED: "red",
    RunStatus.KILLED: "yellow",
}


# -- JSON ------------------------------------------------------------------------------------------


def jsonable(value: object) -> object:
    """``value`` as plain JSON types (see the module docstring for times and non-finite numbers)."""
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return value


def emit_json(data: object) -> None:
    """Write ``data`` as one indented JSON document to stdout."""
    sys.stdout.write(json.dumps(jsonable(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def metric_dict(metric: Metric) -> dict[str, object]:
    return {"value": metric.value, "step": metric.step, "timestamp": metric.timestamp}


def environment_dict(env: RunEnvironment | None) -> dict[str, object] | None:
    if env is None:
        return None
    return {
        "python_version": env.python_version,
        "platform": env.platform,
        "command": env.command,
        "git_commit": env.git_commit,
        "git_dirty": env.git_dirty,
        "packages": dict(env.packages),
    }


def run_dict(run: Run, experiment_names: Mapping[str, str] | None = None) -> dict[str, object]:
    """The stable JSON form of a run."""
    return {
        "id": run.id,
        "name": run.name,
        "experiment_id": run.experiment_id,
        "experiment": (experiment_names or {}).get(run.experiment_id),
        "status": run.status,
        "user": run.user,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "duration_seconds": run.duration,
        "parent_id": run.parent_id,
        "note": run.note,
        "params": dict(run.params),
        "metrics": {k: metric_dict(m) for k, m in run.metrics.items()},
        "tags": dict(run.tags),
    }


# -- formatting ------------------------------------------------------------------------------------


def format_time(value: datetime | None) -> str:
    """Local wall-clock time to the second, or an em dash."""
    return "—" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float | None) -> str:
    """``350ms``, ``12.3s``, ``4m 05s``, ``2h 03m``, ``3d 04h``; an em dash when unknown."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_number(value: float | None, digits: int = 6) -> str:
    """A metric value to ``digits`` significant digits; an em dash when missing."""
    return "—" if value is None else f"{value:.{digits}g}"


def short_digest(digest: str) -> str:
    algorithm, _, hex_part = digest.partition(":")
    return f"{algorithm}:{hex_part[:12]}…" if hex_part else digest[:12]


def status_text(status: RunStatus) -> Text:
    return Text(status.value, style=STATUS_STYLES.get(status, ""))


def plain(value: object) -> Text:
    """User content as a table cell, never interpreted as Rich markup."""
    return Text("" if value is None else str(value))


# -- tables ----------------------------------------------------------------------------------------


def new_table(*columns: str, title: str | None = None) -> Table:
    """A plain table; the first column (the row's name or id) never wraps."""
    table = Table(title=title, box=box.SIMPLE_HEAD, header_style="bold", title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, overflow="fold", no_wrap=i == 0)
    return table


def key_value_table(values: Mapping[str, object], *, title: str, key: str = "key") -> Table:
    table = new_table(key, "value", title=title)
    for k in sorted(values):
        table.add_row(plain(k), plain(values[k]))
    return table


def common_metric_keys(runs: Iterable[Run], limit: int = 4, preferred: Sequence[str] = ()) -> list[str]:
    """Up to ``limit`` metric keys: the ``preferred`` ones the runs have, then those most runs have."""
    counts = Counter(k for run in runs for k in run.metrics)
    keys = [k for k in dict.fromkeys(preferred) if k in counts]
    keys += [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if k not in keys]
    return keys[:limit]


def runs_table(
    runs: Sequence[Run],
    experiment_names: Mapping[str, str],
    metric_keys: Sequence[str],
    *,
    title: str,
    width: int | None = None,
) -> Table:
    """One row per run: id, name, status, start, duration and as many of the given metrics as fit
    in ``width``, plus the experiment when the runs come from more than one. Values never
    truncate; names fold."""
    table = Table(title=title, box=box.SIMPLE_HEAD, header_style="bold", title_justify="left")
    several = len({r.experiment_id for r in runs}) > 1
    fixed = [("run id", 32), ("name", 12), ("status", 8), ("started", 16), ("duration", 8)]
    if several:
        fixed.insert(2, ("experiment", 10))
    used = sum(w + 3 for _, w in fixed) + 1  # each column: its width, padding and a separator
    fitting = []
    for key in metric_keys:
        column = min(max(len(key), 8), 12)
        if width is not None and used + column + 3 > width:
            break
        fitting.append((key, column))
        used += column + 3
    metric_keys = [key for key, _ in fitting]
    table.add_column("run id", no_wrap=True, min_width=32)
    table.add_column("name", overflow="fold", min_width=12)
    if several:
        table.add_column("experiment", overflow="fold", min_width=10)
    table.add_column("status", no_wrap=True, min_width=8)
    table.add_column("started", no_wrap=True, min_width=16)
    table.add_column("duration", no_wrap=True, justify="right", min_width=8)
    for key, column in fitting:
        table.add_column(key, justify="right", overflow="fold", min_width=column)
    for run in runs:
        metrics = [format_number(m.value if (m := run.metrics.get(k)) else None, 4) for k in metric_keys]
        experiment = [plain(experiment_names.get(run.experiment_id, run.experiment_id))] if several else []
        table.add_row(
            plain(run.id),
            plain(run.name),
            *experiment,
            status_text(run.status),
            format_time(run.start_time),
            format_duration(run.duration),
            *metrics,
        )
    return table
