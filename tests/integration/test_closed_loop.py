"""The closed loop end to end, on embedded defaults and on PostgreSQL (with its online store on
Redis): drifted traffic through a real prediction server → the monitor's drift alert →
``drift.detected`` in the event log → the event trigger starts the retraining pipeline → the
candidate is registered and gated → a canary of it takes live traffic → the decider promotes it →
``explain`` prints the whole thread, and every step is in the audit trail."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from shipyard.app import App, build_app, build_prediction_server
from shipyard.client import Client
from shipyard.client.fluent import set_client
from shipyard.config import load_settings
from shipyard.migrations import runner
from shipyard.monitoring.model import MonitorSpec, Window
from shipyard.serving.runtime.http import build_http_app
from shipyard.serving.runtime.server import ServeConfig
from shipyard.storage.metadata.database import Database
from support import loop_pipeline
from support.databases import fresh_postgres_database, redis_server_url
from support.registry_models import FEATURES, churn_data
from support.serving import make_registry


@pytest.fixture(params=["embedded", "postgres+redis"])
def settings_kw(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, object]]:
    base: dict[str, object] = {"home": tmp_path / "home", "artifacts": str(tmp_path / "artifacts")}
    if request.param == "embedded":
        yield base
        return
    redis_url = redis_server_url()
    with fresh_postgres_database() as url:
        db = Database(url)
        runner.upgrade(db)
        db.dispose()
        yield {**base, "db_url": url, "online_store": redis_url}


def _predict(client: TestClient, token: str, rows: list[dict[str, object]]) -> None:
    for row in rows:
        answer = client.post(
            f"/v1/deployments/{loop_pipeline.DEPLOYMENT}/predict",
            json={"inputs": row},
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": uuid.uuid4().hex},
        )
        assert answer.status_code == 200, answer.text


def _rows(frame: object, n: int) -> list[dict[str, object]]:
    records = frame[FEATURES].head(n).to_dict("records")  # type: ignore[index]
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in records]


def _wait_for_run(app: App, run_id: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = app.pipelines.get_run(run_id).state.value
        if state in ("SUCCEEDED", "FAILED"):
            return state
        time.sleep(0.2)
    raise AssertionError(f"pipeline run {run_id} did not finish in {timeout}s")


def test_drift_alert_retrains_gates_canaries_and_promotes(
    settings_kw: dict[str, object], tmp_path: Path
) -> None:
    settings = load_settings(**settings_kw)  # type: ignore[arg-type]
    app = build_app(settings)
    steps_client = Client(settings)
    set_client(steps_client)  # what the pipeline's steps reach through get_client()
    try:
        registry = make_registry(app, tmp_path)
        app.registry.set_policy("churn", {"stages": ["staging"], "min": {"auc": 0.6}}, actor="alice")
        app.deployments.deploy(loop_pipeline.DEPLOYMENT, "churn@champion", actor="dana")
        app.pipelines.apply(loop_pipeline.retrain, actor="alice")
        app.triggers.create(
            "retrain-on-drift", "churn-retrain", "event",
            {"event_type": "drift.detected", "where": {"deployment": loop_pipeline.DEPLOYMENT}}, actor="alice",
        )  # fmt: skip
        train_frame, evaluation = churn_data()
        reference = tmp_path / "reference.parquet"
        train_frame.to_parquet(reference)
        app.monitoring.create(
            MonitorSpec(
                name="loop", deployment=loop_pipeline.DEPLOYMENT, reference=str(reference), target="churned",
                window=Window("time", 600),
            ),
            actor="dana",
        )  # fmt: skip
        app.alerts.create_rule("loop", "dataset-drift", "drift.share", ">=", 0.5, actor="dana")

        config = ServeConfig(
            poll_seconds=0.05, window_seconds=0.2, log_flush_seconds=0.1, spill_dir=tmp_path / "spill"
        )
        server = build_prediction_server(app, config)
        with TestClient(build_http_app(server)) as http:
            # 1. drifted traffic reaches the champion; the log is flushed
            _predict(http, registry.viewer, _rows(loop_pipeline.drifted(evaluation), 300))
            deadline = time.monotonic() + 10
            while server.log is not None and server.log.stats["written"] < 300:
                assert time.monotonic() < deadline, server.log.stats
                time.sleep(0.05)

            # 2. the monitor raises the alert; the scheduler's tick fires the trigger
            evaluation_ = app.monitoring.evaluate("loop")
            assert evaluation_.figures["drift.dataset"] == 1.0, evaluation_.figures
            (alert,) = app.alerts.list_alerts(monitor="loop")
            report = app.scheduler().tick()
            assert len(report.submitted) == 1 and report.submitted[0].run_id, report
            run_id = report.submitted[0].run_id
            assert _wait_for_run(app, run_id) == "SUCCEEDED", app.pipelines.logs(run_id)

            # 3. the candidate is registered, gated and takes a canary share
            deployment = app.deployments.get(loop_pipeline.DEPLOYMENT)
            challenger = deployment.role("challenger")
            assert deployment.strategy == "canary" and challenger is not None
            candidate = challenger.version
            assert candidate not in (registry.v1, registry.v2)
            assert app.registry.gate_reports("churn", candidate)[-1].passed

            # 4. live traffic splits; the decider promotes the candidate on its figures
            for _ in range(6):
                _predict(http, registry.viewer, _rows(evaluation, 120))
                time.sleep(0.4)  # replicas report their windows every 0.2 s
                app.deployments.decide(loop_pipeline.DEPLOYMENT, holder="test", actor="decider")
                if app.deployments.get(loop_pipeline.DEPLOYMENT).role("primary").version == candidate:  # type: ignore[union-attr]
                    break
        promoted = app.deployments.get(loop_pipeline.DEPLOYMENT)
        assert promoted.role("primary").version == candidate  # type: ignore[union-attr]
        assert app.registry.resolve("churn@champion").version == candidate

        # 5. one thread from the alert to the decision, and the audit trail of each step
        thread = app.monitoring_api.explain(alert.id)
        kinds = [s.kind for s in thread]
        for kind in (
            "alert",
            "event",
            "firing",
            "pipeline_run",
            "step_run",
            "model_version",
            "gate_report",
            "decision",
        ):
            assert kind in kinds, (kind, thread)
        assert (
            kinds.index("alert") < kinds.index("event") < kinds.index("firing") < kinds.index("pipeline_run")
        )
        assert any(s.kind == "model_version" and s.id == f"churn/{candidate}" for s in thread)
        assert any(s.kind == "decision" and "promote" in s.summary for s in thread)
        actions = {r.action for r in app.audit.list(limit=1000)}
        assert {"alert.fire", "monitor.create", "trigger.create"} <= actions
        assert any(a.startswith("deployment.") for a in actions)
    finally:
        set_client(None)
        steps_client.close()
        app.close()
