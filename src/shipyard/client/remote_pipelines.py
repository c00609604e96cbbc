"""Pipelines over HTTP: :class:`RemotePipelines` talks to a Shipyard server's ``/api/v1/pipelines``.

It implements :class:`~shipyard.pipelines.api.PipelineAPI`. ``apply`` builds the graph here and
sends it; runs execute on the server, which imports the pipeline's code by its reference (install
the pipeline's package where the server runs). ``started_by``/``actor`` are ignored: the server
records the token's user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shipyard.client.http import RemoteClient, segment
from shipyard.errors import InvalidInput
from shipyard.pipelines.definition import PipelineDefinition, check_name
from shipyard.pipelines.model import Pipeline, PipelineRun, PipelineSpec, RunState, StepRun

Json = dict[str, Any]


class RemotePipelines(RemoteClient):
    def apply(self, definition: PipelineDefinition, *, actor: str = "") -> PipelineSpec:
        if not isinstance(definition, PipelineDefinition):
            raise InvalidInput("apply takes a @pipeline", field="pipeline")
        spec = definition.spec()
        body = {
            "name": spec.name,
            "version": spec.version,
            "ref": spec.ref,
            "source_digest": spec.source_digest,
            "description": spec.description,
            **spec.to_dict(),
        }
        return PipelineSpec.from_dict(self.connection.json("POST", "/pipelines", json=body))

    def list_pipelines(self) -> list[Pipeline]:
        return [_pipeline(p) for p in self.connection.json("GET", "/pipelines")["pipelines"]]

    def get_pipeline(self, name: str, version: str | None = None) -> PipelineSpec:
        params = {} if version is None else {"version": version}
        return PipelineSpec.from_dict(self.connection.json("GET", _p(name), params=params))

    def submit(
        self,
        name: str,
        params: Mapping[str, object],
        *,
        started_by: str = "",
        trigger_id: str | None = None,
        firing_key: str | None = None,
        executor: str | None = None,
        cache: bool = True,
        resume: str | None = None,
    ) -> str:
        if trigger_id is not None or firing_key is not None:
            raise InvalidInput("triggers start runs on the server, not over HTTP", field="trigger_id")
        body = {"params": dict(params), "executor": executor, "cache": cache, "resume": resume}
        return str(self.connection.json("POST", f"{_p(name)}/runs", json=body)["run_id"])

    def get_run(self, run_id: str) -> PipelineRun:
        return _run(self.connection.json("GET", f"/pipelines/runs/{segment(run_id)}"))

    def list_runs(
        self, pipeline: str | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[PipelineRun]:
        if pipeline is None:
            raise InvalidInput("name the pipeline whose runs to list", field="pipeline")
        found = self.connection.json("GET", f"{_p(pipeline)}/runs", params={"limit": limit, "offset": offset})
        return [_run(r) for r in found["runs"]]

    def logs(self, run_id: str, nodes: Sequence[str] = ()) -> dict[str, tuple[str, str]]:
        found = self.connection.json(
            "GET", f"/pipelines/runs/{segment(run_id)}/logs", params={"step": list(nodes)}
        )
        return {d["node"]: (d["stdout"], d["stderr"]) for d in found["logs"]}


def _p(name: str) -> str:
    return f"/pipelines/{segment(check_name('pipeline', name))}"


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _pipeline(d: Json) -> Pipeline:
    return Pipeline(
        d["name"],
        d["description"],
        d["latest_version"],
        "",
        datetime.fromisoformat(d["created_at"]),
        datetime.fromisoformat(d["updated_at"]),
    )


def _step(d: Json) -> StepRun:
    return StepRun(
        node=d["node"],
        step=d["step"],
        step_version=d["step_version"],
        state=RunState(d["state"]),
        run_id=d["run_id"],
        attempt=d["attempt"],
        cache_key=d["cache_key"],
        cached_from=d["cached_from"],
        output_digest=d["output_digest"],
        output_kind=d["output_kind"],
        error=d["error"],
        started_at=_time(d["started_at"]),
        finished_at=_time(d["finished_at"]),
    )


def _run(d: Json) -> PipelineRun:
    return PipelineRun(
        id=d["id"],
        pipeline=d["pipeline"],
        version=d["version"],
        state=RunState(d["state"]),
        params=d["params"],
        started_by=d["started_by"],
        trigger_id=d["trigger_id"],
        firing_key=d["firing_key"],
        executor=d["executor"],
        resumed_from=d["resumed_from"],
        error=d["error"],
        created_at=datetime.fromisoformat(d["created_at"]),
        started_at=_time(d["started_at"]),
        finished_at=_time(d["finished_at"]),
        steps=tuple(_step(s) for s in d["steps"]),
    )
