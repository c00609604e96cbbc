"""Shared pieces of the benchmarks: a result row, a fresh embedded client in a temp folder, and a
script run in an anchor's own virtualenv."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.client import Client
from shipyard.config import load_settings


@dataclass(frozen=True)
class Result:
    name: str
    value: float
    unit: str
    target: float | None = None  # lower is better, unless ``higher``
    note: str = ""
    higher: bool = False  # the target is a floor (throughput), not a ceiling

    @property
    def ok(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.higher else self.value <= self.target


@contextmanager
def embedded_client(**settings: object) -> Iterator[Client]:
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as home:
        client = Client(load_settings(home=Path(home), **settings))
        try:
            yield client
        finally:
            client.close()


def percentile(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]
    )


def anchor_figures(python: Path, script: str, *args: object, timeout: float = 1800) -> dict[str, Any] | None:
    """Run ``script`` (a file beside the benchmarks) with an anchor's ``python`` (Feast, Evidently,
    NannyML in their own virtualenvs) and return the JSON object it prints last; None, with its
    stderr shown, if it fails."""
    done = subprocess.run(
        [str(python), str(Path(__file__).with_name(script)), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return None
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures
