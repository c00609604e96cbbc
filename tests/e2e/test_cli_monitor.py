"""``shipyard monitor`` end to end on a real SQLite database, registry, deployment and inference
log: create, evaluate (the drift alert fires and is explained), history, labels from a file, rules,
channels, alerts, acknowledge, the HTML report, and one-line errors for bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shipyard.app import build_app
from shipyard.config import load_settings
from support.cli import fails, isolate, ok, ok_json
from support.monitoring import HOUR, T0, deploy_churn, drifted, labels_for, traffic
from support.registry_models import churn_data


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(monkeypatch, tmp_path, home=tmp_path / "home", user="dana")
    app = build_app(load_settings())
    deployed = deploy_churn(app, tmp_path)
    _, evaluation = churn_data()
    ids = traffic(deployed, evaluation.head(500), start=T0)
    traffic(deployed, drifted(evaluation.head(500)), start=T0 + HOUR)
    (tmp_path / "labels.jsonl").write_text(
        "\n".join(json.dumps(x) for x in labels_for(ids, evaluation.head(500))[:200])
    )
    app.close()
    return tmp_path / "home"


def test_a_monitor_from_the_command_line(tmp_path: Path) -> None:
    created = ok_json(
        "monitor", "create", "churn-drift", "--deployment", "churn-live", "--reference",
        str(tmp_path / "reference.parquet"), "--target", "churned", "--window", "1h",
    )  # fmt: skip
    assert created["subject"] == "deployment churn-live" and created["estimates_performance"] is True
    ok(
        "monitor",
        "rules",
        "add",
        "churn-drift",
        "dataset",
        "--when",
        "drift.share >= 0.5",
        "--cooldown",
        "600",
    )
    assert "drift.share >= 0.5" in ok("monitor", "rules", "list", "churn-drift")

    calm = ok_json("monitor", "evaluate", "churn-drift", "--at", str(T0 + HOUR))
    assert calm["figures"]["drift.dataset"] == 0.0 and calm["rows"] == 500
    shown = ok("monitor", "evaluate", "churn-drift", "--at", "2026-03-01T02:00:00")
    assert "drift.share" in shown and "drifted: " in shown and "estimated.roc_auc (estimated)" in shown

    alerts = ok("monitor", "alerts", "--monitor", "churn-drift")
    assert "firing" in alerts and "drift.share >= 0.5" in alerts
    (alert,) = ok_json("monitor", "alerts", "--monitor", "churn-drift")
    explained = ok("monitor", "explain", alert["id"])
    assert "alert" in explained and "drift.detected published" in explained
    acked = ok("monitor", "ack", alert["id"])
    assert "acknowledged by dana" in acked

    history = ok_json("monitor", "history", "churn-drift", "drift.share")
    assert [p["at"] for p in history] == [T0 + HOUR, T0 + 2 * HOUR]
    assert history[1]["value"] > history[0]["value"]

    report = ok("monitor", "report", "churn-drift", "-o", str(tmp_path / "report.html"))
    assert "report.html" in report
    page = (tmp_path / "report.html").read_text()
    assert "Plotly.newPlot('drift'" in page and "estimated" in page and alert["id"] in page
    assert "<script src" not in page and "plotly.js v" in page  # self-contained: plotly.js is inlined

    listing = ok("monitor", "list")
    assert "churn-drift" in listing and "deployment churn-live" in listing


def test_labels_from_a_file_are_counted(tmp_path: Path) -> None:
    sent = ok("monitor", "labels", "churn-live", str(tmp_path / "labels.jsonl"))
    # the labels' predictions are older than the 7-day lookback of this run's clock: kept as unknown
    assert re.search(r"200 labels: 200 stored, 0 duplicates", sent), sent
    again = ok_json("monitor", "labels", "churn-live", str(tmp_path / "labels.jsonl"))
    assert again["stored"] == 0 and again["duplicates"] == 200


def test_channels_are_listed_without_secrets() -> None:
    ok("monitor", "channels", "add", "ops-mail", "--kind", "smtp", "--set", "host=127.0.0.1", "--set", "port=2525",
       "--set", "sender=shipyard@example.com", "--set", "recipients=ops@example.com,oncall@example.com",
       "--set", "username=ops", "--set", "password=hunter2")  # fmt: skip
    listing = ok("monitor", "channels", "list")
    assert "ops-mail" in listing and "smtp" in listing and "hunter2" not in listing
    assert "unknown notifier kind 'pigeon' (known: log, smtp, webhook)" in fails(
        "monitor", "channels", "add", "x", "--kind", "pigeon"
    )


def test_bad_input_gets_one_line_errors(tmp_path: Path) -> None:
    assert "no-such" in fails("monitor", "create", "m", "--deployment", "no-such")
    assert "window" in fails("monitor", "create", "m", "--deployment", "churn-live", "--window", "fortnight")
    assert "unknown check" in fails(
        "monitor", "create", "m", "--deployment", "churn-live", "--checks", "vibes"
    )
    assert "energy-dance" in fails(
        "monitor", "create", "m", "--deployment", "churn-live", "--reference", str(tmp_path / "reference.parquet"),
        "--drift-method", "energy-dance",
    )  # fmt: skip
    assert "condition" in fails("monitor", "rules", "add", "m", "r", "--when", "drift.share is big")
    assert "no monitor 'm'" in fails("monitor", "evaluate", "m")
    assert "does not exist" in fails("monitor", "labels", "churn-live", str(tmp_path / "missing.csv"))
