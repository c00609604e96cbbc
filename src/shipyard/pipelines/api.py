"""The pipeline use cases as a protocol.

:class:`~shipyard.pipelines.service.PipelineService` implements it in process;
:class:`shipyard.client.remote_pipelines.RemotePipelines` over HTTP. Runs started through it
execute in the background where the service lives (on a server: in the server process, on its
configured executor), so the code a pipeline references must be importable there.

``started_by`` names who acts in process; over HTTP the server records the token's user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from shipyard.pipelines.definition import PipelineDefinition
from shipyard.pipelines.model import Pipeline, PipelineRun, PipelineSpec


class PipelineAPI(Protocol):
    def apply(self, definition: PipelineDefinition, *, actor: str) -> PipelineSpec: ...

    def list_pipelines(self) -> list[Pipeline]: ...

    def get_pipeline(self, name: str, version: str | None = None) -> PipelineSpec: ...

    def submit(
        self,
        name: str,
        params: Mapping[str, object],
        *,
        started_by: str,
        trigger_id: str | None = None,
        firing_key: str | None = None,
        executor: str | None = None,
        cache: bool = True,
        resume: str | None = None,
    ) -> str:
        """Queue a run and return its id at once; it executes in the background."""
        ...

    def get_run(self, run_id: str) -> PipelineRun: ...

    def list_runs(
        self, pipeline: str | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[PipelineRun]: ...

    def logs(self, run_id: str, nodes: Sequence[str] = ()) -> dict[str, tuple[str, str]]:
        """Captured ``(stdout, stderr)`` per step."""
        ...
