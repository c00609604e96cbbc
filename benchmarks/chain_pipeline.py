"""The pipeline the pipelines benchmark runs: a chain of 100 no-op steps."""

from __future__ import annotations

from shipyard.pipelines import pipeline, step

LENGTH = 100


@step
def start(seed: int) -> int:
    return seed


@step
def noop(previous: int) -> int:
    return previous + 1


@pipeline
def chain(seed: int = 0) -> None:
    value = start(seed)
    for _ in range(LENGTH - 1):
        value = noop(value)
