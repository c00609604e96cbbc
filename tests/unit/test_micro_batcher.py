"""The micro-batcher merges requests that are in flight together, and flushes as soon as no other
request can join: a lone request never waits out ``max_wait``."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from shipyard.serving.runtime.fleet import Arrivals, MicroBatcher

FOREVER = 3600.0  # a max_wait no test may wait out


def _batcher(arrivals: Arrivals | None, batches: list[int], max_rows: int = 64) -> MicroBatcher:
    def predict(columns: dict[str, list[Any]]) -> np.ndarray:
        return np.asarray(columns["x"]) * 2

    return MicroBatcher(
        predict,
        max_rows=max_rows,
        max_wait=FOREVER,
        executor=None,
        on_batch=batches.append,
        arrivals=arrivals,
    )


async def _yield(times: int = 10) -> None:
    for _ in range(times):  # let every ready task run; no clock involved
        await asyncio.sleep(0)


def test_a_lone_request_is_answered_without_waiting_out_max_wait() -> None:
    async def scenario() -> None:
        arrivals, batches = Arrivals(), list[int]()
        batcher = _batcher(arrivals, batches)
        out = await asyncio.wait_for(batcher.submit({"x": [1, 2]}, 2, arrivals.arrive()), 10)
        assert out == [2, 4] and batches == [2] and arrivals.count == 0

    asyncio.run(scenario())


def test_requests_in_flight_together_share_one_model_call() -> None:
    async def scenario() -> None:
        arrivals, batches = Arrivals(), list[int]()
        batcher = _batcher(arrivals, batches)
        tickets = [arrivals.arrive() for _ in range(5)]  # five requests begun at once
        outs = await asyncio.wait_for(
            asyncio.gather(*(batcher.submit({"x": [i]}, 1, t) for i, t in enumerate(tickets))), 10
        )
        assert outs == [[0], [2], [4], [6], [8]] and batches == [5]

    asyncio.run(scenario())


def test_the_batch_waits_for_a_request_still_on_its_way() -> None:
    async def scenario() -> None:
        arrivals, batches = Arrivals(), list[int]()
        batcher = _batcher(arrivals, batches)
        first, second = arrivals.arrive(), arrivals.arrive()  # the second still reads its body
        answered = asyncio.ensure_future(batcher.submit({"x": [1]}, 1, first))
        await _yield()
        assert not answered.done() and batches == []
        assert await asyncio.wait_for(batcher.submit({"x": [5]}, 1, second), 10) == [10]
        assert await answered == [2] and batches == [2]

    asyncio.run(scenario())


def test_a_request_that_fails_before_joining_lets_the_batch_go() -> None:
    async def scenario() -> None:
        arrivals, batches = Arrivals(), list[int]()
        batcher = _batcher(arrivals, batches)
        first, failing = arrivals.arrive(), arrivals.arrive()
        answered = asyncio.ensure_future(batcher.submit({"x": [1]}, 1, first))
        await _yield()
        assert not answered.done()
        failing.leave()  # e.g. a 422: it will never submit
        failing.leave()  # leaving twice counts once
        assert await asyncio.wait_for(answered, 10) == [2] and batches == [1] and arrivals.count == 0

    asyncio.run(scenario())


def test_a_full_batch_goes_at_once_and_the_rest_follow() -> None:
    async def scenario() -> None:
        arrivals, batches = Arrivals(), list[int]()
        batcher = _batcher(arrivals, batches, max_rows=4)
        tickets = [arrivals.arrive() for _ in range(6)]
        outs = await asyncio.wait_for(
            asyncio.gather(*(batcher.submit({"x": [i, i]}, 2, t) for i, t in enumerate(tickets))), 10
        )
        assert outs == [[2 * i, 2 * i] for i in range(6)] and batches == [4, 4, 4]

    asyncio.run(scenario())


def test_closing_answers_what_is_queued_and_a_late_request_still_gets_an_answer() -> None:
    async def scenario() -> None:
        batches: list[int] = []
        batcher = _batcher(Arrivals(), batches)
        queued = [asyncio.ensure_future(batcher.submit({"x": [i]}, 1)) for i in range(3)]
        await _yield(1)
        batcher.close()
        assert await asyncio.wait_for(asyncio.gather(*queued), 10) == [[0], [2], [4]]
        assert await asyncio.wait_for(batcher.submit({"x": [7]}, 1), 10) == [14]

    asyncio.run(scenario())


def test_a_free_keep_alive_connection_is_waited_for_and_a_busy_one_is_not() -> None:
    async def scenario() -> None:
        connections = [2]  # two open connections, as the HTTP server counts them
        arrivals, batches = Arrivals(lambda: connections[0]), list[int]()
        batcher = _batcher(arrivals, batches)
        arrivals.answering += 1  # connection 1's request, until answered
        first = asyncio.ensure_future(batcher.submit({"x": [1]}, 1, arrivals.arrive()))
        await _yield()
        assert not first.done()  # connection 2 is free: its next request may join
        arrivals.answering += 1
        assert await asyncio.wait_for(batcher.submit({"x": [3]}, 1, arrivals.arrive()), 10) == [6]
        assert await first == [2] and batches == [2]  # every connection's request joined: at once
        arrivals.answering -= 2
        connections[0] = 1  # connection 2 closed: a lone request on a lone connection goes at once
        arrivals.answering += 1
        assert await asyncio.wait_for(batcher.submit({"x": [4]}, 1, arrivals.arrive()), 10) == [8]
        assert batches == [2, 1]

    asyncio.run(scenario())
