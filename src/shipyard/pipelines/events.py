"""Events other domains may subscribe to (by type name). Primitives only."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar


@dataclass(frozen=True)
class PipelineStarted:
    TYPE: ClassVar[str] = "pipeline.started"
    run_id: str
    pipeline: str
    version: str
    trigger_id: str | None
    started_by: str

    def payload(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class PipelineFinished:
    TYPE: ClassVar[str] = "pipeline.finished"
    run_id: str
    pipeline: str
    version: str
    trigger_id: str | None
    status: str  # SUCCEEDED | FAILED

    def payload(self) -> dict[str, object]:
        return asdict(self)
