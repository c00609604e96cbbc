"""The notebook API: module-level functions over one default client.

``shipyard.start_run(experiment="churn")`` uses a client built from the environment on first use
(:func:`get_client`); ``nested=True`` makes the new run a child of the innermost open run.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from shipyard.client.client import Client
from shipyard.client.run import ActiveRun
from shipyard.errors import Conflict
from shipyard.tracking.api import DEFAULT_MAX_RESULTS
from shipyard.tracking.model import LineageGraph, Run, RunComparison

_client: Client | None = None
_lock = threading.Lock()


def get_client() -> Client:
    """The default client, built from ``SHIPYARD_*`` settings on first use."""
    global _client
    with _lock:
        if _client is None:
            _client = Client()
        return _client


def set_client(client: Client | None) -> None:
    """Replace the default client (``None``: build a fresh one from settings on next use)."""
    global _client
    with _lock:
        _client = client


def start_run(
    experiment: str = "default",
    name: str | None = None,
    *,
    nested: bool = False,
    tags: Mapping[str, str] | None = None,
    params: Mapping[str, object] | None = None,
) -> ActiveRun:
    """Start a run (a child of the open one with ``nested=True``); ``tags`` and ``params`` are
    recorded with its creation, in one transaction."""
    client = get_client()
    parent = None
    if client.stack:
        if not nested:
            raise Conflict(
                f"run {client.stack[-1].id} is still open: end it first, or pass nested=True to start a child run"
            )
        parent = client.stack[-1]
    return client.start_run(experiment, name, parent=parent, tags=tags, params=params)


def active_run() -> ActiveRun | None:
    stack = get_client().stack
    return stack[-1] if stack else None


def _require_active() -> ActiveRun:
    run = active_run()
    if run is None:
        raise Conflict("no active run: call shipyard.start_run() first")
    return run


def log_param(key: str, value: object) -> None:
    _require_active().log_param(key, value)


def log_params(params: Mapping[str, object]) -> None:
    _require_active().log_params(params)


def log_metric(key: str, value: float, step: int = 0) -> None:
    _require_active().log_metric(key, value, step)


def log_metrics(metrics: Mapping[str, float], step: int = 0) -> None:
    _require_active().log_metrics(metrics, step)


def set_tag(key: str, value: str) -> None:
    _require_active().set_tag(key, value)


def log_dataset(data: Any, name: str, *, context: str = "training", output: bool = False) -> None:
    _require_active().log_dataset(data, name, context=context, output=output)


def log_artifact(path: str, artifact_path: str | None = None) -> None:
    _require_active().log_artifact(path, artifact_path)


def get_run(run_id: str) -> Run:
    return get_client().tracking.get_run(run_id)


def search_runs(
    experiments: Sequence[str] | None = None,
    filter: str = "",
    order_by: Sequence[str] = (),
    max_results: int = DEFAULT_MAX_RESULTS,
    offset: int = 0,
) -> list[Run]:
    return get_client().tracking.search_runs(experiments, filter, order_by, max_results, offset)


def compare_runs(run_ids: Sequence[str]) -> RunComparison:
    return get_client().tracking.compare_runs(run_ids)


def lineage(subject: str, depth: int = 1) -> LineageGraph:
    return get_client().tracking.lineage(subject, depth)
