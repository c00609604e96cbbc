"""Ray: each step attempt is a Ray task on the cluster at ``ray_address`` (``None`` or ``"local"``
starts a local instance). Workers import steps by their code reference."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from shipyard.errors import ConfigError
from shipyard.pipelines.executors import StepResult, StepTask, run_by_ref


class RayExecutor:
    name = "ray"

    def __init__(self, *, ray_address: str | None = None, **_: object) -> None:
        self.address = ray_address
        self._remote: Any = None

    def _task(self) -> Any:
        if self._remote is None:
            try:
                import ray
            except ImportError:
                raise ConfigError(
                    "the ray executor needs Ray: pip install 'shipyard[ray]'", field="executor"
                ) from None
            if not ray.is_initialized():
                address = None if self.address in (None, "", "local") else self.address
                ray.init(address=address, include_dashboard=False, ignore_reinit_error=True)
            self._remote = ray.remote(max_retries=0)(run_by_ref)
        return self._remote

    def submit(self, task: StepTask, fn: Callable[..., Any]) -> Future[StepResult]:
        future: Future[StepResult] = self._task().remote(task).future()
        return future

    def close(self) -> None:
        self._remote = None
