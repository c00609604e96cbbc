"""The demo's closed loop: a later month arrives with drift (bigger bills, more support calls), the
monitor on the deployment sees it, its alert publishes ``drift.detected``, the event trigger starts
the training pipeline on the new labelled month, and the candidate it registers takes over the
deployment through a canary, or is refused by its gates or rolled back by the decider. The stage
ends with ``explain``'s thread of the alert and an HTML report.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from rich.markup import escape

from shipyard.demo.data import churn_probability
from shipyard.demo.feature_repo import SERVICE
from shipyard.demo.models import FEATURES, LABEL
from shipyard.demo.names import DEPLOYMENT, NEW_DATA_TRIGGER, PIPELINE
from shipyard.demo.pipeline_stage import default_client, follow
from shipyard.demo.serving_stage import drive, secret_for
from shipyard.errors import NotFound
from shipyard.monitoring.model import MonitorSpec, Window

if TYPE_CHECKING:
    from rich.console import Console

    from shipyard.app import App
    from shipyard.client import Client
    from shipyard.monitoring.api import MonitoringAPI

MONITOR = "churn-api-drift"
RULE = "feature-drift"
TRIGGER = "churn-retrain-on-drift"
#: The share of drifted feature columns that raises the alert: the bills and the support calls
#: are two of the model's eight features.
DRIFT_SHARE = 0.25
#: The retraining after drift learns from the newest months only.
RECENT_MONTHS = 4
DRIFTED_REQUESTS = 300
CANARY_REQUESTS = 300


@dataclass(frozen=True)
class MonitoringOutcome:
    monitor: str
    alert_id: str | None
    retrain_run_id: str | None
    canary_version: int | None
    decision: str | None  # promote | rollback | None (no canary)
    report: Path


def drifted_month(data_dir: Path, seed: int) -> pd.DataFrame:
    """Rewrite the newest month of activity (the one the pipeline stage appended) as it turned out,
    with drift, and append its labels; returns that month's feature rows for traffic."""
    activity_path, labels_path = data_dir / "customer_activity.parquet", data_dir / "churn_labels.parquet"
    activity, labels = pd.read_parquet(activity_path), pd.read_parquet(labels_path)
    newest = activity["event_timestamp"].max()
    month = activity["event_timestamp"] == newest
    rng = np.random.default_rng(seed + 13)
    activity.loc[month, "monthly_charges"] = (activity.loc[month, "monthly_charges"] * 1.6).round(2)
    activity.loc[month, "support_calls"] = activity.loc[month, "support_calls"] + rng.poisson(
        2.5, int(month.sum())
    )
    profile = pd.read_parquet(data_dir / "customer_profile.parquet")
    latest_profile = (
        profile.sort_values("event_timestamp").groupby("customer_id").tail(1).drop(columns="event_timestamp")
    )
    people = (
        labels.sort_values("event_timestamp")
        .groupby("customer_id")
        .tail(1)[["customer_id", "age_band", "gender"]]
    )
    rows = activity[month].merge(latest_profile, on="customer_id").merge(people, on="customer_id")
    # The world moved beyond the features too: a competitor now wins month-to-month customers in the
    # south (a concept shift the model in place cannot know, and a retrained one picks up).
    base = np.clip(churn_probability(rows), 1e-6, 1 - 1e-6)
    moved = (rows["region"] == "south") & (rows["contract"] == "month-to-month")
    logit = np.log(base / (1 - base)) + 3.0 * moved
    rows[LABEL] = (rng.random(len(rows)) < 1 / (1 + np.exp(-logit))).astype(labels[LABEL].dtype)
    new_labels = rows[list(labels.columns)].astype(labels.dtypes.to_dict())
    for path, frame in (
        (activity_path, activity),
        (labels_path, pd.concat([labels, new_labels], ignore_index=True)),
    ):
        partial = path.with_name(f".{path.name}.partial")
        frame.to_parquet(partial, index=False)
        partial.replace(path)
    return rows


def run_monitoring_stage(
    app: App, client: Client, data_dir: Path, spill_dir: Path, console: Console, *, seed: int, trials: int
) -> MonitoringOutcome:
    user = client.user
    monitoring, triggers = client.monitoring, client.triggers
    # A demo run again on a configured store starts this stage afresh (its alerts and audit stay).
    with contextlib.suppress(NotFound):
        monitoring.delete_monitor(MONITOR, actor=user)
    with contextlib.suppress(NotFound):
        triggers.delete(TRIGGER, actor=user)
    # The reference: the labelled months joined with their features, as the pipeline trains on them.
    reference = data_dir / "reference.parquet"
    labelled = pd.read_parquet(data_dir / "churn_labels.parquet")
    client.features.get_historical_features(labelled, service=SERVICE).to_parquet(reference, index=False)
    monitor = monitoring.create_monitor(
        MonitorSpec(
            name=MONITOR,
            deployment=DEPLOYMENT,
            reference=str(reference),
            target=LABEL,
            window=Window("time", 3600),
        ),
        actor=user,
    )
    monitoring.create_rule(MONITOR, RULE, "drift.share", ">=", DRIFT_SHARE, actor=user)
    console.print(
        f"Monitor {MONITOR!r} watches {DEPLOYMENT!r} against {escape(monitor.reference_source)} "
        f"({monitor.reference_rows:,} training rows), alerting when drift.share >= {DRIFT_SHARE}."
    )
    params = {
        "labels": str(data_dir / "churn_labels.parquet"),
        "trials": trials,
        "seed": seed,
        "canary": DEPLOYMENT,
        "recent_months": RECENT_MONTHS,
    }
    triggers.set_enabled(NEW_DATA_TRIGGER, False, actor=user)  # this stage rewrites the files it watches
    triggers.create(
        TRIGGER, PIPELINE, "event", {"event_type": "drift.detected", "where": {"deployment": DEPLOYMENT}},
        params=params, actor=user,
    )  # fmt: skip
    rows = drifted_month(data_dir, seed)
    console.print(f"A new month arrives: {len(rows):,} customers with bills up 60% and more support calls.")
    secret = secret_for(app, user)
    traffic = json.loads(rows[list(FEATURES)].to_json(orient="records"))
    drive(
        app,
        secret,
        [traffic[i % len(traffic)] for i in range(DRIFTED_REQUESTS)],
        spill_dir,
        console,
        "Drifted traffic",
    )

    evaluation = monitoring.evaluate(MONITOR)
    drifted = [c["column"] for c in evaluation.details.get("drift", {}).get("columns", []) if c["drifted"]]
    console.print(
        f"Monitor: {evaluation.rows} predictions, drift.share {evaluation.figures.get('drift.share', 0):.2f} "
        f"(drifted: {', '.join(drifted) or 'none'})"
    )
    alerts = monitoring.list_alerts(monitor=MONITOR, status="firing")
    report = data_dir.parent / "monitor-report.html"
    if not alerts:
        console.print("[yellow]No alert fired: nothing to retrain.[/]")
        _write_report(monitoring, report)
        return MonitoringOutcome(MONITOR, None, None, None, None, report)
    alert = alerts[0]
    console.print(f"[bold red]Alert[/] {alert.id}: {alert.rule} fired; drift.detected is in the event log.")
    with default_client(client):
        tick = client.scheduler().tick()
        fired = [f for f in tick.submitted if f.run_id]
        if not fired:
            console.print(f"[yellow]The trigger did not fire:[/] {escape('; '.join(tick.errors))}")
            _write_report(monitoring, report)
            return MonitoringOutcome(MONITOR, alert.id, None, None, None, report)
        run = follow(client, fired[0].run_id, console, "Retraining (started by the drift alert)")  # type: ignore[arg-type]
    deployment = client.deployments.get(DEPLOYMENT)
    challenger = deployment.role("challenger")
    decision = None
    if challenger is None:
        console.print(
            f"[yellow]The retrained candidate did not pass its gates ({escape(_refused_gates(client, run.id))}): "
            "no canary; the model in place stays.[/]"
        )
    else:
        console.print(
            f"Canary: {challenger.model}/{challenger.version} takes {challenger.weight}% of {DEPLOYMENT!r}."
        )
        picked = [traffic[(i * 7) % len(traffic)] for i in range(CANARY_REQUESTS)]
        drive(app, secret, picked, spill_dir, console, "Canary traffic")
        decided = client.deployments.decide(DEPLOYMENT, holder="shipyard-demo")
        decision = decided[0].action if decided else None
        final = client.deployments.get(DEPLOYMENT)
        serving = ", ".join(f"{t.model}/{t.version} {t.role} {t.weight}%" for t in final.targets)
        console.print(f"[bold]{escape(decision or 'no decision yet')}[/]: now serving {serving}.")
    console.print(f"[bold]monitor explain {alert.id}[/]")
    for step in monitoring.explain(alert.id):
        console.print(f"  {step.kind:<14} {escape(step.summary)}")
    _write_report(monitoring, report)
    console.print(f"Report: {report}")
    return MonitoringOutcome(
        MONITOR, alert.id, run.id, None if challenger is None else challenger.version, decision, report
    )


def _refused_gates(client: Client, run_id: str) -> str:
    stdout, _ = client.pipelines.logs(run_id, ["release"]).get("release", ("", ""))
    return next((line for line in stdout.splitlines() if "failed its gates" in line), "see the run's logs")


def _write_report(monitoring: MonitoringAPI, path: Path) -> None:
    from shipyard.monitoring.report import render_report

    monitor = monitoring.get_monitor(MONITOR)
    report = render_report(monitor, monitoring.evaluations(MONITOR), monitoring.list_alerts(monitor=MONITOR))
    path.write_text(report, encoding="utf-8")
