"""Shipyard: the machine-learning lifecycle in one package.

Notebook use::

    import shipyard

    with shipyard.start_run(experiment="churn") as run:
        run.log_params({"model": "gbm", "depth": 4})
        run.log_metric("loss", 0.3, step=1)
        run.log_dataset(df, name="train")
        run.log_artifact("model.pkl")

Importing this package reads no settings and opens nothing; the default client is built on first use.
"""

from shipyard import errors
from shipyard.client import ActiveRun, Client
from shipyard.client.fluent import (
    active_run,
    compare_runs,
    get_client,
    get_run,
    lineage,
    log_artifact,
    log_dataset,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    search_runs,
    set_client,
    set_tag,
    start_run,
)
from shipyard.config import Settings, load_settings
from shipyard.tracking.model import Experiment, LineageGraph, Metric, Run, RunComparison, RunStatus

__version__ = "0.1.0"

__all__ = [
    "ActiveRun",
    "Client",
    "Experiment",
    "LineageGraph",
    "Metric",
    "Run",
    "RunComparison",
    "RunStatus",
    "Settings",
    "__version__",
    "active_run",
    "compare_runs",
    "errors",
    "get_client",
    "get_run",
    "lineage",
    "load_settings",
    "log_artifact",
    "log_dataset",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "search_runs",
    "set_client",
    "set_tag",
    "start_run",
]
