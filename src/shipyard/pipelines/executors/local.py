"""In process: each step runs in the calling thread; a step with a timeout runs in its own thread
so the timeout can be enforced (a timed-out body cannot be killed: it finishes in the background)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from shipyard.pipelines.executors import StepResult, StepTask, run_task


class LocalExecutor:
    name = "local"

    def __init__(self, **_: object) -> None:
        pass

    def submit(self, task: StepTask, fn: Callable[..., Any]) -> Future[StepResult]:
        future: Future[StepResult] = Future()
        future.set_running_or_notify_cancel()
        if task.timeout is None:
            future.set_result(run_task(task, fn))
            return future

        def body() -> None:
            try:
                future.set_result(run_task(task, fn))
            except BaseException as exc:
                future.set_exception(exc)

        threading.Thread(target=body, name=f"step-{task.node}", daemon=True).start()
        return future

    def close(self) -> None:
        pass
