"""Evidently's side of the drift benchmark, run inside ``.venv-evidently`` (``make bench-evidently``).

``evidently_drift.py REFERENCE.parquet CURRENT.parquet`` runs Evidently 0.7's ``DataDriftPreset``
with its defaults on the two files, read with pandas, and prints one JSON line: the seconds (wall and
CPU) the report took, each column's method, threshold, value and drift decision, and the dataset figures.
"""

from __future__ import annotations

import json
import sys
import time

import pandas as pd
from evidently import Report
from evidently.legacy.calculations.stattests.registry import _registered_stat_tests
from evidently.presets import DataDriftPreset


def main(reference_path: str, current_path: str) -> None:
    reference = pd.read_parquet(reference_path)
    current = pd.read_parquet(current_path)
    names = {
        test.display_name: name
        for name, by_type in _registered_stat_tests.items()
        for test in by_type.values()
    }
    cpu = time.process_time()
    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()], include_tests=True).run(current, reference)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    report = snapshot.dict()
    columns: dict[str, dict[str, object]] = {}
    dataset: dict[str, float] = {}
    for metric in report["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            dataset = {"count": metric["value"]["count"], "share": metric["value"]["share"]}
        elif config["type"].endswith("ValueDrift"):
            columns[config["column"]] = {
                "method": names.get(config["method"], config["method"]),
                "threshold": config["threshold"],
                "value": metric["value"],
            }
    for test in report["tests"]:
        params = test["metric_config"]["params"]
        if params["type"].endswith("ValueDrift"):
            columns[params["column"]]["drifted"] = test["status"] == "FAIL"
    print(json.dumps({"seconds": seconds, "cpu": cpu, "columns": columns, "dataset": dataset}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
