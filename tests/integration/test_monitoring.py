"""Monitors over a real deployment's inference log (real registry, real scikit-learn model, the
serving domain's own log writer): drift and quality against the prepared reference, late labels,
measured and estimated performance, alert rules with cooldown, events into the event log, the
audit trail, the scheduler's tick, and bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from shipyard.app import App, MonitoredLabels, build_app
from shipyard.config import load_settings
from shipyard.core.clock import now_ms
from shipyard.errors import AlreadyExists, InvalidInput, NotFound
from shipyard.monitoring.model import DriftSettings, MonitorSpec, Window
from support.monitoring import HOUR, T0, Deployed, deploy_churn, drifted, labels_for, traffic
from support.registry_models import churn_data


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    tmp = tmp_path_factory.mktemp("monitoring")
    app = build_app(load_settings(home=tmp / "home", artifacts=str(tmp / "artifacts")))
    deployed = deploy_churn(app, tmp)
    # A calm hour from T0, then a drifted one: the drift tests read these (in any order).
    _, evaluation = churn_data()
    traffic(deployed, evaluation, start=T0)
    traffic(deployed, drifted(evaluation), start=T0 + HOUR)
    yield deployed
    app.close()


@pytest.fixture
def app(deployed: Deployed) -> App:
    return deployed.app


def spec(deployed: Deployed, name: str, **kw: object) -> MonitorSpec:
    values: dict[str, object] = {
        "name": name, "deployment": deployed.deployment, "reference": str(deployed.reference),
        "target": "churned", "window": Window("time", 3600),
    }  # fmt: skip
    values.update(kw)
    return MonitorSpec(**values)  # type: ignore[arg-type]


def test_a_drifted_window_raises_drift_and_a_calm_one_does_not(deployed: Deployed, app: App) -> None:
    monitor = app.monitoring.create(spec(deployed, "drift-check"), actor="dana")
    assert monitor.reference_rows == 2000 and set(monitor.columns) == {
        "tenure_months", "monthly_charges", "support_calls", "contract", "payment_method"
    }  # fmt: skip
    assert monitor.estimator_digest is not None  # a classifier with labels: performance is estimated
    _, evaluation = churn_data()
    calm = app.monitoring.evaluate("drift-check", at=T0 + HOUR)
    assert calm.status == "ok" and calm.rows == len(evaluation)
    assert calm.figures["drift.dataset"] == 0.0 and calm.figures["drift.share"] < 0.5
    assert calm.figures["window.rows"] == len(evaluation)
    assert 0.5 < calm.figures["estimated.roc_auc"] < 1.0
    assert calm.figures["stability.collapsed"] == 0.0 and calm.figures["stability.nan_share"] == 0.0
    assert calm.figures["ops.latency_p99_ms"] >= calm.figures["ops.latency_p50_ms"] > 0

    moved = app.monitoring.evaluate("drift-check", at=T0 + 2 * HOUR)
    assert moved.figures["drift.dataset"] == 1.0 and moved.figures["drift.share"] >= 0.5
    drifted_columns = {c["column"] for c in moved.details["drift"]["columns"] if c["drifted"]}
    assert {"tenure_months", "monthly_charges", "contract"} <= drifted_columns
    assert moved.figures["quality.out_of_range.tenure_months"] > 0  # values past the reference's max
    assert "tenure_months" in moved.details["distributions"]
    history = app.monitoring.history("drift-check", "drift.share")
    assert [t for t, _ in history] == [T0 + HOUR, T0 + 2 * HOUR]


def test_a_drift_rule_fires_once_publishes_an_event_and_is_audited(deployed: Deployed, app: App) -> None:
    app.monitoring.create(spec(deployed, "drift-alerts"), actor="dana")
    app.alerts.create_rule(
        "drift-alerts", "dataset-drift", "drift.share", ">=", 0.5, cooldown_s=3600, actor="dana"
    )
    app.monitoring.evaluate("drift-alerts", at=T0 + HOUR)  # the calm hour (see the fixture)
    assert app.alerts.list_alerts(monitor="drift-alerts") == []

    app.monitoring.evaluate("drift-alerts", at=T0 + 2 * HOUR)
    (alert,) = app.alerts.list_alerts(monitor="drift-alerts")
    assert alert.status == "firing" and alert.figure == "drift.share" and alert.value >= 0.5
    assert alert.event_type == "drift.detected"
    events = [e for e in app.events.list(types=["drift.detected"]) if e.payload["alert_id"] == alert.id]
    assert len(events) == 1 and events[0].payload["deployment"] == deployed.deployment
    assert events[0].payload["model"] == "churn" and events[0].payload["version"] == deployed.v1
    audited = [r for r in app.audit.list(object_id=alert.id)]
    assert [r.action for r in audited] == ["alert.fire"]

    # the same drifted hour again: still firing, no second alert (deduplicated)
    app.monitoring.evaluate("drift-alerts", at=T0 + 2 * HOUR + 60_000)
    assert len(app.alerts.list_alerts(monitor="drift-alerts")) == 1


def test_an_alert_resolves_and_fires_again_only_after_its_cooldown(deployed: Deployed, app: App) -> None:
    _, evaluation = churn_data()
    base = T0 + 10 * HOUR
    # drifted, calm, drifted, calm, drifted: one hour each
    for i, frame in enumerate(
        [drifted(evaluation), evaluation, drifted(evaluation), evaluation, drifted(evaluation)]
    ):
        traffic(deployed, frame.head(400), start=base + i * HOUR)
    app.monitoring.create(spec(deployed, "cooldown"), actor="dana")
    app.alerts.create_rule(
        "cooldown", "drift", "drift.share", ">=", 0.5, cooldown_s=2 * 3600 + 60, actor="dana"
    )

    def at(hour: int) -> int:
        return base + hour * HOUR

    app.monitoring.evaluate("cooldown", at=at(1))  # drifted: fires
    app.monitoring.evaluate("cooldown", at=at(2))  # calm: resolves
    (first,) = app.alerts.list_alerts(monitor="cooldown")
    assert first.status == "resolved" and first.resolved_at == at(2)
    app.monitoring.evaluate("cooldown", at=at(3))  # drifted again, inside the cooldown: no new alert
    assert len(app.alerts.list_alerts(monitor="cooldown")) == 1
    app.monitoring.evaluate("cooldown", at=at(4))
    app.monitoring.evaluate("cooldown", at=at(5))  # drifted, the cooldown has passed: fires again
    alerts = app.alerts.list_alerts(monitor="cooldown")
    assert [a.status for a in alerts] == ["firing", "resolved"]
    acked = app.alerts.acknowledge(alerts[0].id, actor="olga")
    assert acked.acknowledged_by == "olga" and acked.status == "firing"


def test_late_labels_out_of_order_duplicated_and_unknown_are_counted_and_joined(
    deployed: Deployed, app: App
) -> None:
    _, evaluation = churn_data()
    frame = evaluation.head(600).reset_index(drop=True)
    start = T0 + 30 * HOUR
    ids = traffic(deployed, frame, start=start)
    app.monitoring.create(spec(deployed, "labels"), actor="dana")
    labels = labels_for(ids, frame)
    app.monitoring.clock = Clock(start + 2 * HOUR)  # labels arrive two hours after the predictions

    later = app.monitoring.log_labels(deployed.deployment, labels[300:])
    assert (later.received, later.stored, later.duplicates, later.unknown, later.out_of_order) == (
        300,
        300,
        0,
        0,
        0,
    )
    earlier = app.monitoring.log_labels(
        deployed.deployment,
        [*labels[:300], labels[0], labels[450], {"request_id": "never-predicted", "label": 1}],
    )
    assert earlier.received == 303
    assert earlier.stored == 301  # 300 new + the unknown id, kept for a prediction still in flight
    assert earlier.duplicates == 2  # labels[0] twice in the batch, labels[450] sent before
    assert earlier.unknown == 1
    assert earlier.out_of_order == 300  # for predictions older than ones already labelled

    app.monitoring.clock = now_ms
    result = app.monitoring.evaluate("labels", at=start + HOUR)
    assert result.figures["performance.labelled_rows"] == 600
    model = app.registry.load(f"churn/{deployed.v1}")
    expected_accuracy = float((model.predict(frame) == frame["churned"]).mean())
    assert result.figures["performance.accuracy"] == pytest.approx(expected_accuracy)
    assert abs(result.figures["estimated.roc_auc"] - result.figures["performance.roc_auc"]) < 0.1
    # what a canary's label check reads: the version's accuracy on its labelled predictions
    figure = MonitoredLabels(app).metric(deployed.deployment, "churn", deployed.v1, since=start)
    assert figure is not None and figure.samples == 600
    assert figure.value == pytest.approx(expected_accuracy)
    assert MonitoredLabels(app).metric(deployed.deployment, "churn", deployed.v2, since=start) is None


def test_a_label_batch_with_wrong_types_is_refused_whole(deployed: Deployed, app: App) -> None:
    with pytest.raises(InvalidInput, match=r"labels\[1\]\.label"):
        app.monitoring.log_labels(
            deployed.deployment, [{"request_id": "a", "label": 1}, {"request_id": "b", "label": [1]}]
        )
    with pytest.raises(InvalidInput, match=r"labels\[0\]\.request_id"):
        app.monitoring.log_labels(deployed.deployment, [{"request_id": 5, "label": 1}])
    with pytest.raises(NotFound, match="deployment"):
        app.monitoring.log_labels("no-such-deployment", [{"request_id": "a", "label": 1}])


def test_bad_monitors_and_rules_get_clear_errors(deployed: Deployed, app: App, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no-such"):
        app.monitoring.create(spec(deployed, "bad-deployment", deployment="no-such"), actor="dana")
    thin = tmp_path / "thin.parquet"
    pd.DataFrame({"tenure_months": [1, 2, 3]}).to_parquet(thin)
    with pytest.raises(InvalidInput, match="lacks the model's feature column"):
        app.monitoring.create(spec(deployed, "thin-reference", reference=str(thin)), actor="dana")
    with pytest.raises(InvalidInput, match="energy-dance"):
        app.monitoring.create(
            spec(deployed, "bad-method", drift=DriftSettings(method="energy-dance")), actor="dana"
        )
    with pytest.raises(InvalidInput, match="cron"):
        app.monitoring.create(spec(deployed, "bad-cron", schedule="every tuesday"), actor="dana")
    with pytest.raises(InvalidInput, match="window"):
        Window.parse("fortnight")
    with pytest.raises(InvalidInput, match="no training dataset with a location"):
        app.monitoring.create(spec(deployed, "no-reference", reference=None), actor="dana")
    app.monitoring.create(spec(deployed, "rules-here"), actor="dana")
    with pytest.raises(AlreadyExists):
        app.monitoring.create(spec(deployed, "rules-here"), actor="dana")
    with pytest.raises(InvalidInput, match=r"no figure 'drift\.shares'"):
        app.alerts.create_rule("rules-here", "typo", "drift.shares", ">", 0.5, actor="dana")
    with pytest.raises(InvalidInput, match=r"no figure 'drift\.column\.age'"):
        app.alerts.create_rule("rules-here", "not-watched", "drift.column.age", ">", 0.1, actor="dana")
    with pytest.raises(NotFound, match="pager"):
        app.alerts.create_rule(
            "rules-here", "to-nowhere", "drift.share", ">", 0.5, channels=["pager"], actor="dana"
        )
    assert app.alerts.list_rules("rules-here") == []  # nothing half-created


def test_the_scheduler_evaluates_a_due_monitor_once_per_slot(deployed: Deployed, app: App) -> None:
    clock = Clock(T0 + 40 * HOUR)
    app.monitoring.clock = clock
    try:
        app.monitoring.create(spec(deployed, "scheduled", schedule="0 * * * *"), actor="dana")
        monitor = app.monitoring.get("scheduled")
        assert monitor.next_due_at == T0 + 41 * HOUR
        sched = app.scheduler()
        assert (
            sched.tick(pd.Timestamp(T0 + 40 * HOUR + 60_000, unit="ms", tz="UTC").to_pydatetime()).done == []
        )
        due = pd.Timestamp(T0 + 41 * HOUR + 5_000, unit="ms", tz="UTC").to_pydatetime()
        report = sched.tick(due)
        assert len(report.done) == 1 and "scheduled" in report.done[0]
        assert sched.tick(due).done == []  # the slot is taken
        (evaluation,) = app.monitoring.evaluations("scheduled")
        assert evaluation.window_end == T0 + 41 * HOUR and evaluation.status == "empty"
        assert app.monitoring.get("scheduled").next_due_at == T0 + 42 * HOUR
    finally:
        app.monitoring.clock = now_ms


def test_a_monitor_on_a_version_evaluates_scored_data_you_pass(deployed: Deployed, app: App) -> None:
    import pyarrow as pa

    app.monitoring.create(
        MonitorSpec(
            name="batch",
            model="churn",
            version=deployed.v1,
            reference=str(deployed.reference),
            target="churned",
        ),
        actor="dana",
    )
    _, evaluation = churn_data()
    result = app.monitoring.evaluate("batch", data=pa.Table.from_pandas(drifted(evaluation)))
    assert result.figures["drift.dataset"] == 1.0
    assert result.figures["performance.labelled_rows"] == len(evaluation)
    with pytest.raises(InvalidInput, match="pass the scored data"):
        app.monitoring.evaluate("batch")
    with pytest.raises(InvalidInput, match="no schedule"):
        app.monitoring.create(
            MonitorSpec(
                name="batch-cron",
                model="churn",
                version=deployed.v1,
                reference=str(deployed.reference),
                schedule="0 * * * *",
            ),
            actor="dana",
        )


def test_the_rest_routes_through_the_remote_client(deployed: Deployed, app: App) -> None:
    from shipyard.client.http import ServerConnection
    from shipyard.client.remote_monitoring import RemoteMonitoring
    from support.live_server import start_live_server

    app.accounts.create_user("dora", role="deployer")
    token = app.accounts.create_token("dora").secret
    with start_live_server(app) as server:
        remote = RemoteMonitoring(ServerConnection(server.url, token))
        created = remote.create_monitor(spec(deployed, "over-rest"), actor="ignored")
        assert created.name == "over-rest" and created.estimator_digest is not None
        rule = remote.create_rule("over-rest", "drift", "drift.share", ">=", 0.5, actor="ignored")
        assert rule.figure == "drift.share" and [r.name for r in remote.list_rules("over-rest")] == ["drift"]
        assert remote.set_enabled("over-rest", False, actor="ignored").enabled is False
        assert remote.set_enabled("over-rest", True, actor="ignored").enabled is True
        result = remote.evaluate("over-rest", at=T0 + 2 * HOUR)  # the drifted hour of the first test
        assert result.figures["drift.dataset"] == 1.0
        (alert,) = remote.list_alerts(monitor="over-rest")
        assert [s.kind for s in remote.explain(alert.id)][:2] == ["alert", "event"]
        assert remote.history("over-rest", "drift.share") == [(T0 + 2 * HOUR, result.figures["drift.share"])]
        with pytest.raises(InvalidInput, match="labels"):
            remote.log_labels(deployed.deployment, [])
        remote.delete_rule("over-rest", "drift", actor="ignored")
        remote.delete_monitor("over-rest", actor="ignored")
        with pytest.raises(NotFound):
            remote.get_monitor("over-rest")
