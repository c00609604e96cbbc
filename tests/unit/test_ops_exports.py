"""The Grafana dashboard and the Prometheus alert rules Shipyard ships read only metrics the code
exports, so renaming a metric without updating them fails here rather than in a team's Grafana."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from shipyard.monitoring.metrics import MonitorMetrics
from shipyard.server.telemetry import Telemetry
from shipyard.serving.runtime.metrics import ServerMetrics

ROOT = Path(__file__).parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "shipyard.json"
RULES = ROOT / "deploy" / "prometheus" / "shipyard-alerts.yml"
METRIC = re.compile(r"\bshipyard_[a-zA-Z0-9_]+")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}


def exposed(registry: CollectorRegistry) -> set[str]:
    """Every series name the registry exposes on /metrics, by the exposition rules of its types
    (a labelled metric shows no sample until first used, so samples alone would miss it)."""
    return {family.name + suffix for family in registry.collect() for suffix in SUFFIXES[family.type]}


def exported_names() -> set[str]:
    server = ServerMetrics()
    server.watch_log(dict, int)  # the inference log's counters
    return exposed(MonitorMetrics().registry) | exposed(server.registry) | exposed(Telemetry().registry)


def dashboard_panels(panels: list[dict[str, object]]) -> Iterator[dict[str, object]]:
    for panel in panels:
        yield panel
        yield from dashboard_panels(panel.get("panels", []))  # type: ignore[arg-type]


def dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    queries = [
        str(target["expr"])
        for panel in dashboard_panels(board["panels"])
        for target in panel.get("targets", [])  # type: ignore[attr-defined]
    ]
    queries += [variable["query"]["query"] for variable in board["templating"]["list"]]
    return queries


def alert_rules() -> list[dict[str, object]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def balanced(expr: str) -> bool:
    closing = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr):  # brackets inside strings do not count
        if char in "([{":
            stack.append(char)
        elif char in closing and (not stack or stack.pop() != closing[char]):
            return False
    return not stack


def test_the_exported_names_follow_the_exposition_rules() -> None:
    metrics = MonitorMetrics()
    metrics.evaluated("churn", "ok", 0.2)
    text_names = {s.name for family in metrics.registry.collect() for s in family.samples}
    assert text_names <= exposed(metrics.registry)
    assert "shipyard_monitor_evaluations_total" in text_names
    assert "shipyard_monitor_evaluation_seconds_bucket" in text_names


@pytest.mark.parametrize("source", ["dashboard", "rules"])
def test_every_metric_the_ops_files_read_is_exported(source: str) -> None:
    exprs = dashboard_queries() if source == "dashboard" else [str(r["expr"]) for r in alert_rules()]
    used = {name for expr in exprs for name in METRIC.findall(expr)}
    assert used, "no Shipyard metric found"
    assert used - exported_names() == set()


@pytest.mark.parametrize("source", ["dashboard", "rules"])
def test_every_query_has_balanced_brackets(source: str) -> None:
    exprs = dashboard_queries() if source == "dashboard" else [str(r["expr"]) for r in alert_rules()]
    assert [expr for expr in exprs if not balanced(expr)] == []


def test_the_dashboard_shows_every_monitor_metric_and_the_prediction_server() -> None:
    used = {name for expr in dashboard_queries() for name in METRIC.findall(expr)}
    for name in exposed(MonitorMetrics().registry):
        family = re.sub(r"_(total|created|bucket|count|sum)$", "", name)
        assert any(u.startswith(family) for u in used), f"the dashboard does not show {family}"
    for name in (
        "shipyard_predict_requests_total",
        "shipyard_predict_errors_total",
        "shipyard_predict_latency_seconds_bucket",
        "shipyard_inference_log_written_total",
        "shipyard_inference_log_dropped_total",
    ):
        assert name in used


def test_the_dashboard_is_importable_with_a_prometheus_input() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert [(i["name"], i["type"], i["pluginId"]) for i in board["__inputs"]] == [
        ("DS_PROMETHEUS", "datasource", "prometheus")
    ]
    assert board["uid"] and board["title"] == "Shipyard"
    panels = list(dashboard_panels(board["panels"]))
    assert len({p["id"] for p in panels}) == len(panels)  # Grafana needs unique panel ids
    wanted = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    for panel in panels:
        grid = panel["gridPos"]
        assert isinstance(grid, dict) and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == wanted, panel["title"]
        targets = panel["targets"]
        assert isinstance(targets, list) and targets, panel["title"]
        assert all(t["datasource"] == wanted for t in targets)
        assert len({t["refId"] for t in targets}) == len(targets)
    assert all(v["datasource"] == wanted for v in board["templating"]["list"])


def test_the_rules_alert_on_drift_performance_latency_errors_and_the_inference_log() -> None:
    rules = alert_rules()
    exprs = " ".join(str(r["expr"]) for r in rules)
    assert 'figure="drift.share"' in exprs
    assert "performance\\\\." in exprs and "estimated\\\\." in exprs
    assert "histogram_quantile(0.99" in exprs and "shipyard_predict_latency_seconds_bucket" in exprs
    assert "shipyard_predict_errors_total" in exprs and "shipyard_predict_requests_total" in exprs
    assert "shipyard_inference_log_failed_writes_total" in exprs
    assert "shipyard_inference_log_dropped_total" in exprs


def test_each_rule_is_complete() -> None:
    rules = alert_rules()
    names = [r["alert"] for r in rules]
    assert len(set(names)) == len(names)
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, rule[
            "alert"
        ]
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}  # type: ignore[index]
        assert rule["annotations"]["summary"]  # type: ignore[index]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smhd]", str(rule["for"])), rule["alert"]


def test_a_figure_that_cannot_be_computed_is_exported_as_nan() -> None:
    metrics = MonitorMetrics()
    metrics.figure("churn", "churn-prod", "performance.roc_auc", math.inf)
    value = metrics.registry.get_sample_value(
        "shipyard_monitor_figure",
        {"monitor": "churn", "deployment": "churn-prod", "figure": "performance.roc_auc"},
    )
    assert value is not None and math.isnan(value)


def test_the_fired_counter_counts_changes_to_firing_only() -> None:
    metrics = MonitorMetrics()
    labels = {"monitor": "churn", "rule": "drift-high", "severity": "warning"}
    for firing in (True, True, True, False, True):
        metrics.alert("churn", "drift-high", "warning", firing)
    value = metrics.registry.get_sample_value
    assert value("shipyard_alerts_fired_total", labels) == 2
    assert value("shipyard_alert_firing", labels) == 1
    metrics.alert("churn", "drift-high", "warning", False)
    assert value("shipyard_alert_firing", labels) == 0


def test_evaluations_are_counted_timed_and_stamped() -> None:
    metrics = MonitorMetrics()
    metrics.evaluated("churn", "ok", 0.3)
    metrics.evaluated("churn", "error", 1.2)
    value = metrics.registry.get_sample_value
    assert value("shipyard_monitor_evaluations_total", {"monitor": "churn", "outcome": "error"}) == 1
    assert value("shipyard_monitor_evaluation_seconds_count", {"monitor": "churn"}) == 2
    assert value("shipyard_monitor_evaluation_seconds_sum", {"monitor": "churn"}) == pytest.approx(1.5)
    assert value("shipyard_monitor_last_evaluation_timestamp_seconds", {"monitor": "churn"}) > 1.7e9  # type: ignore[operator]
