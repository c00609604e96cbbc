"""Events the tracking store publishes (leaf module: other domains may import it to subscribe)."""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.core.events import Event


@dataclass(frozen=True)
class RunFinished(Event):
    """A run ended; ``status`` is FINISHED, FAILED or KILLED."""

    TYPE = "run.finished"
    run_id: str
    experiment_id: str
    status: str
