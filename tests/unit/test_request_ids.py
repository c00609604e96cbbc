"""Generated request ids are unique in a process and across forked workers."""

from __future__ import annotations

import multiprocessing as mp
import re

from shipyard.server.telemetry import new_request_id


def _child_id(queue: mp.Queue[str]) -> None:
    queue.put(new_request_id())


def test_ids_are_unique_and_a_forked_child_draws_its_own_prefix() -> None:
    ids = [new_request_id() for _ in range(1000)]
    assert len(set(ids)) == 1000 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    ctx = mp.get_context("fork")
    queue: mp.Queue[str] = ctx.Queue()
    child = ctx.Process(target=_child_id, args=(queue,))
    child.start()
    from_child = queue.get(timeout=30)
    child.join(30)
    assert from_child[:20] != ids[0][:20]  # the same counter value cannot give the same id
