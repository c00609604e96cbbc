"""Executors: where step bodies run. The port, the task handed to it, the function a worker runs,
and :data:`EXECUTORS`, the plugin group: built-ins ``local``, ``process`` and ``ray``, plus any
third-party executor registered in the ``shipyard.executors`` entry-point group."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from shipyard.core.plugins import PluginGroup
from shipyard.errors import InvalidInput
from shipyard.pipelines import context
from shipyard.pipelines.capture import captured, text_of
from shipyard.pipelines.studies import StudyScope

EXECUTORS = PluginGroup(
    "executors",
    builtins={
        "local": "shipyard.pipelines.executors.local:LocalExecutor",
        "process": "shipyard.pipelines.executors.process:ProcessExecutor",
        "ray": "shipyard.pipelines.executors.ray:RayExecutor",
    },
    noun="executor",
    error=InvalidInput,
    field="executor",
)


@dataclass(frozen=True)
class StepTask:
    """One attempt of one node: what a worker needs to run the step body."""

    node: str
    step: str
    ref: str
    code_digest: str
    args: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1
    timeout: float | None = None  # seconds; the driver enforces it, an executor may too
    step_run_id: str = ""  # the tracking runs the attempt belongs to (see pipelines.context)
    pipeline_run_id: str = ""
    study: StudyScope | None = None  # where the step's searches keep their studies


@dataclass
class StepResult:
    value: Any = None
    error: str | None = None  # the traceback, None on success
    stdout: str = ""
    stderr: str = ""
    started_ms: int = 0
    finished_ms: int = 0
    trials: list[Any] = field(default_factory=list)  # search trials (shipyard.pipelines.search)


class Executor(Protocol):
    """Runs step attempts. ``fn`` is the step body when the caller has it in process; an executor
    running elsewhere imports the step by ``task.ref`` instead (and refuses changed code)."""

    name: str

    def submit(self, task: StepTask, fn: Callable[..., Any]) -> Future[StepResult]: ...

    def close(self) -> None: ...


def run_task(task: StepTask, fn: Callable[..., Any] | None = None) -> StepResult:
    """Run one attempt, capturing output; an exception becomes the result's ``error``."""
    if fn is None:
        from shipyard.pipelines.definition import load_step

        fn = load_step(task.ref, task.code_digest).fn
    from shipyard.pipelines.search import SCOPE, TRIALS

    result = StepResult(started_ms=time.time_ns() // 1_000_000)
    token = TRIALS.set(result.trials)
    where = context.enter(
        context.StepContext(task.node, task.step_run_id, task.pipeline_run_id, task.attempt)
        if task.pipeline_run_id
        else None
    )
    scope = SCOPE.set(None if task.study is None else (task.study, [0]))
    with captured() as (out, err):
        try:
            result.value = fn(**task.args)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            result.error = "".join(traceback.format_exception(exc)).strip()
        finally:
            TRIALS.reset(token)
            context.leave(where)
            SCOPE.reset(scope)
    result.stdout, result.stderr = text_of(out), text_of(err)
    result.finished_ms = time.time_ns() // 1_000_000
    return result


def run_by_ref(task: StepTask) -> StepResult:
    """The entry point of out-of-process workers (picklable by reference)."""
    return run_task(task, None)
