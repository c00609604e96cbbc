"""The versions a server holds: loaded on first request, evicted least-recently-used under a memory
cap, each with a micro-batcher that merges concurrent requests into one model call.

A version's memory is estimated by the size of its pickled model object (arrays dominate it);
:mod:`tracemalloc` would be exact but slows the first load of a flavor tenfold.
"""

from __future__ import annotations

import asyncio
import gc
import pickle
import sys
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shipyard.errors import InvalidInput
from shipyard.serving.ports import ModelSource
from shipyard.serving.runtime.frames import Predict, batch_predictor
from shipyard.serving.runtime.payloads import Columns

Key = tuple[str, int]  # model, version


@dataclass
class Job:
    columns: Columns
    n: int
    future: asyncio.Future[list[Any]]


class Arrival:
    """One request on its way to a batcher; :meth:`leave` once it has submitted (or given up)."""

    __slots__ = ("_arrivals",)

    def __init__(self, arrivals: Arrivals | None) -> None:
        self._arrivals = arrivals

    def leave(self) -> None:
        arrivals, self._arrivals = self._arrivals, None
        if arrivals is not None:
            arrivals._left()


class Arrivals:
    """What a batcher may still wait for. ``count``: the prediction requests of one server that have
    begun (body, token, features) but not yet reached a batcher. ``answering``: those begun and not
    yet answered. ``connections``, when the HTTP server counts them: its open connections; one
    without a prediction request in progress may send one any moment (HTTP/1.1 sends the next
    request on a connection only after the answer).

    A batcher with every queued request in hand flushes at once when nothing is on its way and no
    connection is free to send more (:meth:`settled`): a lone request, or a batch that every open
    connection's request has joined, does not wait out ``max_wait``. Without a connection count,
    only the requests on their way are waited for."""

    def __init__(self, connections: Callable[[], int] | None = None) -> None:
        self.count = 0
        self.answering = 0
        self.connections = connections
        self._idle: asyncio.Future[None] | None = None

    def settled(self) -> bool:
        """Whether no other request can join a batch now."""
        if self.count:
            return False
        return self.connections is None or self.connections() <= self.answering

    def arrive(self) -> Arrival:
        self.count += 1
        return Arrival(self)

    def _left(self) -> None:
        self.count -= 1
        if self.count == 0 and self._idle is not None:
            idle, self._idle = self._idle, None
            if not idle.done():
                idle.set_result(None)

    def when_idle(self) -> asyncio.Future[None]:
        """A future resolved when the last request on its way reaches a batcher (or gives up)."""
        if self._idle is None:
            self._idle = asyncio.get_running_loop().create_future()
        return self._idle


class MicroBatcher:
    """Queues requests for one version; a worker task takes up to ``max_rows`` rows and predicts
    them in one call (in ``executor``, or on the event loop when it is None). Once it has taken
    every queued request, it waits for more at most ``max_wait`` seconds after the first, and with
    ``arrivals`` only while another request may still join (see :class:`Arrivals`). A batch the model refuses as a whole is
    retried request by request, so one bad request fails alone."""

    def __init__(
        self,
        predict: Predict,
        *,
        max_rows: int,
        max_wait: float,
        executor: Executor | None,
        on_batch: Callable[[int], None] = lambda n: None,
        arrivals: Arrivals | None = None,
    ) -> None:
        self.predict = predict
        self.max_rows = max_rows
        self.max_wait = max_wait
        self.executor = executor
        self.on_batch = on_batch
        self.arrivals = arrivals
        self._jobs: deque[Job] = deque()
        self._closed = False
        self._wake: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def submit(self, columns: Columns, n: int, arrival: Arrival | None = None) -> list[Any]:
        """The outputs of ``n`` rows; ``arrival`` (the request's) leaves once the job is queued."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._work())
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._jobs.append(Job(columns, n, future))
        self._notify()
        if arrival is not None:
            arrival.leave()
        return await future

    def close(self) -> None:
        """Stop after the queued requests are answered."""
        self._closed = True
        self._notify()

    def _notify(self, *_: object) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def _sleep(self, timeout: float | None) -> None:
        """Until a job is queued, the batcher is closed, ``timeout`` passes, or (with a timeout:
        while a batch fills) no request is on its way any more."""
        loop = asyncio.get_running_loop()
        self._wake = wake = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, self._notify)
        idle = None
        if timeout is not None and self.arrivals is not None:
            idle = self.arrivals.when_idle()
            idle.add_done_callback(self._notify)
        try:
            await wake
        finally:
            self._wake = None
            if timer is not None:
                timer.cancel()
            if idle is not None:
                idle.remove_done_callback(self._notify)

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._jobs:
                if self._closed:
                    return
                await self._sleep(None)
            first = self._jobs.popleft()
            jobs, rows = [first], first.n
            deadline = loop.time() + self.max_wait
            while rows < self.max_rows:
                if self._jobs:
                    job = self._jobs.popleft()
                    jobs.append(job)
                    rows += job.n
                    continue
                if self._closed or (self.arrivals is not None and self.arrivals.settled()):
                    break  # nothing more can join
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                await self._sleep(remaining)
            await self._run(jobs, rows)

    async def _run(self, jobs: list[Job], rows: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            if self.executor is None:  # on the event loop: no thread hand-off, no GIL ping-pong
                results = self._predict_all(jobs)
            else:
                results = await loop.run_in_executor(self.executor, self._predict_all, jobs)
        except BaseException as exc:  # answered through the futures; the worker lives on
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        self.on_batch(rows)
        for job, result in zip(jobs, results, strict=True):
            if job.future.done():
                continue
            if isinstance(result, BaseException):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)

    def _predict_all(self, jobs: list[Job]) -> list[list[Any] | BaseException]:
        if len(jobs) == 1:
            return [self._predict_one(jobs[0])]
        merged: Columns = {name: [] for name in jobs[0].columns}
        for job in jobs:
            for name, values in merged.items():
                values.extend(job.columns[name])
        try:
            out = _as_list(self.predict(merged))
        except InvalidInput:
            return [self._predict_one(job) for job in jobs]
        results: list[list[Any] | BaseException] = []
        start = 0
        for job in jobs:
            results.append(out[start : start + job.n])
            start += job.n
        return results

    def _predict_one(self, job: Job) -> list[Any] | BaseException:
        try:
            return _as_list(self.predict(job.columns))
        except Exception as exc:  # the caller's future carries it
            return exc


def _as_list(array: np.ndarray) -> list[Any]:
    values: list[Any] = np.asarray(array).tolist()
    return values


def measure(obj: object) -> int:
    """Estimated bytes ``obj`` holds in memory."""
    try:
        return len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # an object that cannot be pickled (an ONNX session): its shallow size
        return max(sys.getsizeof(obj), 1)


@dataclass
class Loaded:
    model: str
    version: int
    loaded: Any  # LoadedModel
    size: int
    batcher: MicroBatcher
    specs: tuple[tuple[str, str], ...] = field(default=())
    outputs: tuple[tuple[str, str], ...] = field(default=())


class Fleet:
    """LRU cache of loaded versions under ``memory_cap`` bytes (the most recent always stays)."""

    def __init__(
        self,
        source: ModelSource,
        *,
        memory_cap: int,
        executor: Executor | None,
        max_batch_rows: int = 64,
        max_wait: float = 0.001,
        on_batch: Callable[[str, int, int], None] = lambda model, version, rows: None,
        on_load: Callable[[float], None] = lambda seconds: None,
        on_evict: Callable[[], None] = lambda: None,
        on_size: Callable[[int, int], None] = lambda versions, size: None,
        arrivals: Arrivals | None = None,
    ) -> None:
        self.source = source
        self.memory_cap = memory_cap
        self.executor = executor
        self.max_batch_rows = max_batch_rows
        self.max_wait = max_wait
        self.on_batch = on_batch
        self.on_load = on_load
        self.on_evict = on_evict
        self.on_size = on_size
        self.arrivals = arrivals
        self._items: OrderedDict[Key, Loaded] = OrderedDict()
        self._locks: dict[Key, asyncio.Lock] = {}

    @property
    def used(self) -> int:
        return sum(item.size for item in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def loaded_keys(self) -> list[Key]:
        return list(self._items)

    async def get(self, model: str, version: int) -> Loaded:
        key = (model, version)
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
            return item
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            item = self._items.get(key)
            if item is None:
                item = await asyncio.get_running_loop().run_in_executor(None, self._load, model, version)
                self._items[key] = item
                self._evict()
                self.on_size(len(self._items), self.used)
        self._locks.pop(key, None)
        self._items.move_to_end(key)
        return item

    def _load(self, model: str, version: int) -> Loaded:
        began = time.perf_counter()
        loaded = self.source.load(model, version)
        size = measure(loaded.raw)
        # A loaded model is long-lived: keep its objects out of the cyclic collector's full
        # passes, which otherwise walk every object of every model (100+ ms pauses with a fleet).
        gc.freeze()
        self.on_load(time.perf_counter() - began)
        signature = loaded.signature
        specs = tuple((c.name, c.dtype) for c in signature.inputs)
        batcher = MicroBatcher(
            batch_predictor(loaded, specs),
            max_rows=self.max_batch_rows,
            max_wait=self.max_wait,
            executor=self.executor,
            on_batch=lambda rows: self.on_batch(model, version, rows),
            arrivals=self.arrivals,
        )
        return Loaded(
            model,
            version,
            loaded,
            size,
            batcher,
            specs=specs,
            outputs=tuple((c.name, c.dtype) for c in signature.outputs),
        )

    def _evict(self) -> None:
        while len(self._items) > 1 and self.used > self.memory_cap:
            _, item = self._items.popitem(last=False)
            item.batcher.close()
            self.on_evict()

    def close(self) -> None:
        for item in self._items.values():
            item.batcher.close()
        self._items.clear()
        self.on_size(0, 0)
