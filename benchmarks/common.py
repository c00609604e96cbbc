"""Shared pieces of the benchmarks: a result row and a fresh embedded client in a temp folder."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
