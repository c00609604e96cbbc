"""A process pool: independent steps run side by side in worker processes. Workers import each
step by its code reference, so pipelines must live in an importable module."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from shipyard.pipelines.executors import StepResult, StepTask, run_by_ref


class ProcessExecutor:
    name = "process"

    def __init__(self, *, max_workers: int | None = None, **_: object) -> None:
        self.max_workers = max_workers or min(4, os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, task: StepTask, fn: Callable[..., Any]) -> Future[StepResult]:
        try:
            return self._workers().submit(run_by_ref, task)
        except BrokenProcessPool:  # a worker died (killed, out of memory): start a new pool
            self.close()
            return self._workers().submit(run_by_ref, task)

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the parent has threads (background runs), and fork copies their locks.
            self._pool = ProcessPoolExecutor(
                self.max_workers, mp_context=multiprocessing.get_context("spawn")
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
