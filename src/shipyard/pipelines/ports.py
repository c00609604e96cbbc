"""What pipelines need from outside the domain. The composition root (:mod:`shipyard.app`) wires
the tracking service and the model packaging in; pipelines never import them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class RunRecorder(Protocol):
    """Tracking runs, as pipelines record them: a pipeline run is a run, each step a nested run."""

    def start_run(
        self, experiment: str, *, name: str, user: str, parent_id: str | None, tags: Mapping[str, str]
    ) -> str:
        """Create a RUNNING run (and the experiment if missing); return its id."""
        ...

    def log_params(self, run_id: str, params: Mapping[str, object]) -> None: ...

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None: ...

    def log_metrics(self, run_id: str, values: Mapping[str, float], step: int = 0) -> None: ...

    def finish_run(self, run_id: str, ok: bool) -> None:
        """End the run FINISHED (``ok``) or KILLED (a pruned trial)."""
        ...

    def log_input(self, run_id: str, name: str, digest: str, kind: str, context: str) -> None:
        """Record the stored blob ``digest`` as an input dataset of the run."""
        ...

    def log_output(self, run_id: str, path: str, digest: str) -> None:
        """Record the stored blob ``digest`` as the run's artifact ``path``."""
        ...

    def log_text(self, run_id: str, path: str, text: str) -> None:
        """Store ``text`` as the run's artifact ``path`` (captured stdout and stderr)."""
        ...

    def end_run(self, run_id: str, ok: bool) -> None:
        """End the run FINISHED (``ok``) or FAILED; a run that already ended is left as it is."""
        ...

    def read_text(self, run_id: str, path: str) -> str | None:
        """The text artifact ``path`` of the run, None if it has none."""
        ...
