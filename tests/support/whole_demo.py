"""The whole demo, run once for the tests that read what it leaves (``tests/e2e/test_demo.py`` and
``test_lineage_sources.py``): every stage, from the data files to the closed loop, on small data.

The demo takes a minute or more on a two-core machine, so the store it leaves is shared read-only
(tests may add users or tokens). The tests that use it carry ``pytest.mark.xdist_group(GROUP)`` so a
parallel run (``pytest -n``) runs them in one worker and the demo once.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from rich.console import Console

from shipyard.client import Client
from shipyard.config import load_settings
from shipyard.demo.scenario import DemoResult, run_demo
from support.databases import REDIS_ENV, drop_redis_prefix, unavailable

#: 50 customers x 12 months: seconds, not minutes.
ROWS = 600
SEED = 1
#: The xdist group of every test that reads the shared demo.
GROUP = "whole-demo"


@dataclass(frozen=True)
class WholeDemo:
    root: Path
    result: DemoResult
    printed: str  # what the demo printed, 200 columns wide
    redis_url: str

    @property
    def home(self) -> Path:
        return self.root / "home"

    def client(self) -> Client:
        return Client(load_settings(home=self.home))


def _drop_stream(url: str, stream: str) -> None:
    """Delete the demo's stream and the keys named after it (its scores), and nothing else: other
    tests may be using the same Redis at the same time."""
    drop_redis_prefix(url, stream)
    with redis.Redis.from_url(url) as connection:
        connection.delete(stream)


def run_whole_demo(root: Path) -> Iterator[WholeDemo]:
    """Run the demo in ``root`` (its store in ``root/home``, its files in ``root/work``), with the
    test Redis for the stream stage and no outside ``SHIPYARD_*`` settings; delete the Redis keys
    streamed afterwards."""
    url = os.environ.get(REDIS_ENV)
    if not url:
        unavailable(f"{REDIS_ENV} is not set (the demo's stream stage needs Redis)")
        raise AssertionError  # unreachable
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=2) as connection:
            connection.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {url} is unreachable: {exc}")
        raise AssertionError from exc  # unreachable
    buffer = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("SHIPYARD_")]:
            patch.delenv(name)
        patch.chdir(root)
        client = Client(load_settings(home=root / "home"))
        try:
            result = run_demo(
                client,
                root / "work",
                seed=SEED,
                rows=ROWS,
                console=Console(file=buffer, width=200),
                redis_url=url,
            )
        finally:
            client.close()
    try:
        yield WholeDemo(root=root, result=result, printed=buffer.getvalue(), redis_url=url)
    finally:
        if result.scoring.stream is not None:
            _drop_stream(url, result.scoring.stream)
