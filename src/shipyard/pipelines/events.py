"""Events other domains may subscribe to (by type): a pipeline run started and finished. Leaf
module: primitives only, imports only :mod:`shipyard.core`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from shipyard.core.events import Event


@dataclass(frozen=True)
class PipelineStarted(Event):
    TYPE: ClassVar[str] = "pipeline.started"
    run_id: str
    pipeline: str
    version: str
    trigger_id: str | None
    started_by: str


@dataclass(frozen=True)
class PipelineFinished(Event):
    TYPE: ClassVar[str] = "pipeline.finished"
    run_id: str
    pipeline: str
    version: str
    trigger_id: str | None
    status: str  # SUCCEEDED | FAILED
