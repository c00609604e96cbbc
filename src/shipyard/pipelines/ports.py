"""What pipelines need from outside the domain. The composition root (:mod:`shipyard.app`) wires
the tracking service in; pipelines never import it. Calls are few and coarse (one start and one
end per step run) because they are the per-step overhead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class InputRef:
    """A stored blob a run read: recorded as an input dataset (``context`` is the argument name)."""

    name: str
    digest: str
    kind: str
    context: str


#: A metric point: (key, value, step).
Point = tuple[str, float, int]


class RunRecorder(Protocol):
    """Tracking runs, as pipelines record them: a pipeline run is a run, each step a nested run."""

    def start_run(
        self,
        experiment: str,
        *,
        name: str,
        user: str,
        parent_id: str | None,
        tags: Mapping[str, str],
        params: Mapping[str, object] | None = None,
        inputs: Sequence[InputRef] = (),
        outputs: Mapping[str, str] | None = None,
        end: str | None = None,
    ) -> str:
        """Create a run (and the experiment if missing) with its params and inputs, RUNNING unless
        ``end`` (then with its ``outputs``: a cached step in one call); return its id."""
        ...

    def record(
        self,
        run_id: str,
        *,
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, str] | None = None,
        metrics: Sequence[Point] = (),
        outputs: Mapping[str, str] | None = None,
        texts: Mapping[str, str] | None = None,
        end: str | None = None,
    ) -> None:
        """Add to a run: ``outputs`` are artifacts ``path -> digest`` of stored blobs, ``texts``
        artifacts stored from text (captured logs); ``end`` is FINISHED, FAILED or KILLED (a run
        that already ended stays as it is)."""
        ...

    def read_text(self, run_id: str, path: str) -> str | None:
        """The text artifact ``path`` of the run, None if it has none."""
        ...
