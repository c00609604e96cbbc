"""Where a step body is running: the pipeline run and step run it belongs to, set by the worker
around the body (in process, in a process pool or on Ray alike). Code a step calls can read it:
the SDK tags a run started inside a step with the pipeline run and step run that made it, so a
model registered from that run is traced back to the pipeline run (``shipyard monitor explain``,
lineage)."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from shipyard.pipelines.model import TAG_PIPELINE_RUN, TAG_STEP_RUN


@dataclass(frozen=True)
class StepContext:
    node: str
    step_run_id: str
    pipeline_run_id: str
    attempt: int


_CURRENT: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar("shipyard_step", default=None)


def current_step() -> StepContext | None:
    """The step whose body is running in this thread, or None outside a step."""
    return _CURRENT.get()


def enter(context: StepContext | None) -> contextvars.Token[StepContext | None]:
    return _CURRENT.set(context)


def leave(token: contextvars.Token[StepContext | None]) -> None:
    _CURRENT.reset(token)


def run_tags() -> dict[str, str]:
    """The tags for a run started here: empty outside a step."""
    found = current_step()
    if found is None:
        return {}
    return {TAG_PIPELINE_RUN: found.pipeline_run_id, TAG_STEP_RUN: found.step_run_id}
