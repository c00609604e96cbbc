"""The demo end to end on small data: it tracks a sweep a user can then explore, and says how."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import redis
from rich.console import Console

from shipyard.client import Client
from shipyard.config import load_settings
from shipyard.demo.data import generate_churn_data, split_by_time
from shipyard.demo.feature_repo import split_sources
from shipyard.demo.models import CANDIDATES, FEATURES
from shipyard.demo.monitoring_stage import CANARY_REQUESTS as MONITOR_CANARY_REQUESTS
from shipyard.demo.monitoring_stage import DRIFT_SHARE, DRIFTED_REQUESTS, TRIGGER, MonitoringOutcome
from shipyard.demo.names import DEPLOYMENT, NEW_DATA_TRIGGER, PIPELINE, SCHEDULE_TRIGGER
from shipyard.demo.pipeline_stage import TRIALS, PipelineOutcome, append_activity_month
from shipyard.demo.scenario import EXPERIMENT, run_demo
from shipyard.demo.scoring_stage import STREAM_ENTRIES, ScoringOutcome
from shipyard.demo.serving_stage import CANARY_REQUESTS, CHAMPION_REQUESTS, POLICY, ServingOutcome
from shipyard.errors import ConfigError
from shipyard.pipelines.model import RunState
from shipyard.tracking.model import RunStatus
from support.cli import invoke, isolate
from support.whole_demo import GROUP, ROWS, WholeDemo

#: A whole demo (sweep, pipeline runs, traffic) on a busy two-core machine outlasts the default.
DEMO_TIMEOUT = 900


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(monkeypatch, tmp_path)


def test_data_is_seeded_realistic_and_drifts() -> None:
    data = generate_churn_data(rows=24_000, seed=3)
    assert data.equals(generate_churn_data(rows=24_000, seed=3))
    assert not data.equals(generate_churn_data(rows=24_000, seed=4))
    assert len(data) == 24_000 and data["event_timestamp"].nunique() == 12
    assert set(data["contract"]) == {"month-to-month", "one-year", "two-year"}
    assert 0.03 < data["churned"].mean() < 0.2
    by_contract = data.groupby("contract")["churned"].mean()
    assert by_contract["month-to-month"] > 2 * by_contract["two-year"]
    by_age = data.groupby("age_band")["churned"].mean()
    assert by_age["65+"] > by_age.drop("65+").max()  # the planted fairness signal
    month = data["event_timestamp"].dt.month
    early, late = data[month <= 8], data[month >= 11]
    assert late["support_calls"].mean() > 1.15 * early["support_calls"].mean()  # the planted drift
    assert late["monthly_charges"].mean() > early["monthly_charges"].mean()
    train, validation = split_by_time(data)
    assert train["event_timestamp"].max() < validation["event_timestamp"].min()
    assert validation["event_timestamp"].nunique() == 3


def test_a_new_month_of_activity_is_appended_whole(tmp_path: Path) -> None:
    data = generate_churn_data(rows=ROWS, seed=5)
    paths = split_sources(data, tmp_path)
    before = pd.read_parquet(paths["activity"])
    today = pd.Timestamp("2025-03-14T15:00", tz="UTC")
    added = append_activity_month(tmp_path, seed=5, rows=ROWS, today=today)
    after = pd.read_parquet(paths["activity"])
    assert added == ROWS // 12 and len(after) == len(before) + added
    assert after.head(len(before)).equals(before)  # the year already there is untouched
    new = after.tail(added)
    assert set(new["event_timestamp"]) == {pd.Timestamp("2025-03-14", tz="UTC")}
    assert list(after.dtypes) == list(before.dtypes) and new["customer_id"].is_unique
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.xdist_group(GROUP)
@pytest.mark.timeout(DEMO_TIMEOUT)  # the first test to ask for the shared demo runs it
def test_run_demo_goes_from_files_to_a_governed_champion(whole_demo: WholeDemo) -> None:
    result, shown, redis_url = whole_demo.result, whole_demo.printed, whole_demo.redis_url
    client = whole_demo.client()
    try:
        tracking = client.tracking
        sweep = tracking.get_run(result.sweep_id)
        children = tracking.search_runs(["churn"], f"parent_id = '{sweep.id}'")
        assert sweep.name == "model-sweep" and sweep.status is RunStatus.FINISHED
        assert sweep.tags["best_run_id"] == result.best_run_id
        assert len(children) == len(CANDIDATES) == len(result.run_ids)
        aucs = [tracking.get_run(i).metrics["roc_auc"].value for i in result.run_ids]
        assert aucs == sorted(aucs, reverse=True)

        # The training set came from the feature store, point-in-time joined and saved with a digest.
        dataset = client.features.datasets.get("churn_training")
        assert dataset.feature_service == "churn_model" and dataset.num_rows == ROWS
        assert set(dataset.feature_versions) == {"customer_profile", "customer_activity", "charge_ratio"}
        for child in children:
            assert child.status is RunStatus.FINISHED
            assert {"roc_auc", "accuracy", "f1", "log_loss", "precision", "recall"} <= set(child.metrics)
            assert child.params["model"] in {"logistic_regression", "random_forest", "gradient_boosting"}
            assert child.tags["shipyard.feature_service"] == "churn_model"
            assert {a.path for a in tracking.list_artifacts(child.id)} == {"model", "feature_importance.csv"}
            logged = {(d.dataset.name, d.context): d.dataset for d in tracking.run_datasets(child.id)}
            assert set(logged) == {("churn_training", "training"), ("churn_validation", "evaluation")}
            assert logged["churn_training", "training"].digest == dataset.digest
        boosted = next(c for c in children if c.name == "boosting-200x0.05")
        stages = tracking.metric_history(boosted.id, "val_roc_auc")
        assert [p.step for p in stages] == list(range(1, 201))

        # Served online: the newest values of the customers shown.
        assert "Online features (service 'churn_model')" in shown and "present" in shown

        # Governed: the best version passed every gate and is the champion; the runner-up was
        # refused by the champion gate, visibly; the card is written; the audit chain holds.
        registry = client.registry
        champion = registry.resolve("churn@champion")
        assert champion.run_id == result.best_run_id and champion.stage.value == "production"
        challenger = registry.resolve("churn@challenger")
        assert challenger.stage.value == "staging"
        failed = [
            r.name for r in registry.gate_reports("churn", challenger.version)[-1].results if not r.passed
        ]
        assert failed == ["beats champion on auc"]
        assert f"churn/{challenger.version} refused for production" in shown
        assert result.registry.card.read_text().startswith("# ")
        assert client.audit.verify().valid

        model = registry.load("churn@champion")
        frame = client.features.datasets.read(dataset).to_pandas().head(20)
        scores = model.predict_proba(frame[list(FEATURES)])
        assert scores is not None and np.all((scores >= 0) & (scores <= 1))

        graph = tracking.lineage(result.best_run_id, depth=2)
        assert {"churn_training", "model"} <= {n.label for n in graph.nodes}

        _check_pipeline(client, result.pipeline)
        later = DRIFTED_REQUESTS + (MONITOR_CANARY_REQUESTS if result.monitoring.canary_version else 0)
        _check_serving(client, result.serving, whole_demo.home, later_requests=later)
        _check_scoring(result.scoring, redis_url)
        _check_monitoring(client, result.monitoring)
    finally:
        client.close()
    text = shown
    assert "Models by validation ROC AUC" in text and "What to look at next" in text
    assert f"shipyard runs show {result.best_run_id}" in text
    assert f"shipyard lineage {result.best_run_id}" in text
    assert "shipyard models card churn@champion" in text
    assert 'shipyard runs search "metrics.roc_auc > 0.8"' in text
    assert f"shipyard pipelines runs {PIPELINE}" in text
    assert f"shipyard deployments show {DEPLOYMENT}" in text
    assert f"shipyard predict churn@champion --input {result.scoring.batch_input}" in text
    assert f"Canary decision for {DEPLOYMENT}: {result.serving.decision.action}" in text  # type: ignore[union-attr]


def _check_pipeline(client: Client, outcome: PipelineOutcome) -> None:
    """Both runs are recorded with their step runs; the new-data run reused all but the training set."""
    pipelines, tracking = client.pipelines, client.tracking
    first = pipelines.get_run(outcome.first_run_id)
    assert first.pipeline == PIPELINE and first.state is RunState.SUCCEEDED
    assert [s.node for s in first.steps] == ["training_set", "tune", "assess", "register", "release"]
    assert {s.state for s in first.steps} == {RunState.SUCCEEDED}
    for s in first.steps:
        assert s.run_id is not None and tracking.get_run(s.run_id).parent_id == first.id
    tune = next(s for s in first.steps if s.node == "tune")
    trials = tracking.search_runs([f"pipelines/{PIPELINE}"], f"parent_id = '{tune.run_id}'")
    assert len(trials) == TRIALS

    [firing] = client.triggers.firings(NEW_DATA_TRIGGER)  # fired once, for the appended month
    assert outcome.new_data_run_id is not None and firing.run_id == outcome.new_data_run_id
    assert client.triggers.firings(SCHEDULE_TRIGGER) == []
    second = pipelines.get_run(outcome.new_data_run_id)
    assert second.state is RunState.SUCCEEDED
    assert second.trigger_id == client.triggers.get(NEW_DATA_TRIGGER).id
    states = {s.node: s.state for s in second.steps}
    assert states == {
        "training_set": RunState.SUCCEEDED,  # re-read: its files changed
        "tune": RunState.CACHED,
        "assess": RunState.CACHED,
        "register": RunState.CACHED,
        "release": RunState.SUCCEEDED,  # never cached: it acts on a deployment (here, none)
    }
    reused = {s.node: s.cached_from for s in second.steps if s.state is RunState.CACHED}
    assert reused == {s.node: s.run_id for s in first.steps if s.node in reused}

    # One candidate version, registered by the first run only, staged with its gate report (the
    # monitoring stage's retraining registers the next one).
    assert outcome.candidate_version == 3
    candidate = client.registry.get_version("churn", 3)
    assert candidate.stage.value == "staging"
    assert client.registry.gate_reports("churn", candidate.version)
    assert [v.version for v in client.registry.list_versions("churn")][:3] == [1, 2, 3]


def _check_serving(client: Client, outcome: ServingOutcome, home: Path, *, later_requests: int) -> None:
    """The deployment serves the champion; the canary's decision is in the audit trail with figures."""
    champion = client.registry.resolve("churn@champion").version
    assert outcome.champion_version == champion
    assert outcome.challenger_version == 3  # the pipeline's candidate
    assert outcome.requests == CHAMPION_REQUESTS + CANARY_REQUESTS
    decision = outcome.decision
    assert decision is not None and decision.action in ("promote", "rollback")
    # What the decision left (the monitoring stage changes the deployment later; its audit shows both).
    changes = client.audit.list(object_id=DEPLOYMENT, action=f"deployment.{decision.action}")
    record = changes[0]  # oldest first: the serving stage's decision came first
    served = {t["role"]: t["version"] for t in record.after["targets"]}
    if decision.action == "rollback":
        assert served == {"primary": champion}
    else:  # promoted: the champion stays loaded as the standby
        assert served == {"primary": outcome.challenger_version, "standby": champion}
    assert record.actor == "canary-decider"
    checks = {c["name"]: c for c in record.after["checks"]}
    assert set(checks) == {"error_rate", "latency_p99_ratio", "agreement"}
    for check in checks.values():  # decided on live figures: enough samples on each side
        assert check["status"] in ("pass", "fail") and check["samples"] >= POLICY.min_requests
    assert checks["error_rate"]["value"] == 0.0  # every request was answered
    figures = decision.figures
    assert figures["challenger"]["requests"] + figures["primary"]["requests"] >= CANARY_REQUESTS  # type: ignore[index,operator]
    # Every answered request was written to the inference log.
    logged = pd.concat(
        pd.read_parquet(p) for p in (home / "artifacts" / "inference-log" / DEPLOYMENT).glob("*/*.parquet")
    )
    answered = logged[logged["role"] != "shadow"]["request_id"].nunique()
    assert answered == CHAMPION_REQUESTS + CANARY_REQUESTS + later_requests  # and the monitoring stage's


def _check_monitoring(client: Client, outcome: MonitoringOutcome) -> None:
    """The drift alert fired, its event started the retraining, and the candidate went through its
    gates and then a canary (promoted or rolled back) or was refused; explain shows the thread."""
    monitoring = client.monitoring
    assert outcome.alert_id is not None
    alert = monitoring.get_alert(outcome.alert_id)
    assert (
        alert.figure == "drift.share" and alert.value >= DRIFT_SHARE and alert.event_type == "drift.detected"
    )
    [firing] = client.triggers.firings(TRIGGER)
    assert outcome.retrain_run_id is not None and firing.run_id == outcome.retrain_run_id
    run = client.pipelines.get_run(outcome.retrain_run_id)
    assert run.state is RunState.SUCCEEDED and run.params["canary"] == DEPLOYMENT
    kinds = [s.kind for s in monitoring.explain(alert.id)]
    assert kinds[:4] == ["alert", "event", "firing", "pipeline_run"]
    assert "model_version" in kinds and "gate_report" in kinds
    deployment = client.deployments.get(DEPLOYMENT)
    if outcome.canary_version is None:  # refused by its gates: the deployment is as it was
        assert deployment.strategy != "canary" or deployment.role("challenger") is None
    else:
        assert outcome.decision in ("promote", "rollback") and "decision" in kinds
        primary = deployment.role("primary")
        assert primary is not None
        assert (primary.version == outcome.canary_version) == (outcome.decision == "promote")
    page = outcome.report.read_text()
    assert "drift over time" in page and alert.id in page


def _check_scoring(outcome: ScoringOutcome, redis_url: str) -> None:
    """The batch output has one score per input row; the stream step scored every entry."""
    scored = pd.read_parquet(outcome.batch_output)
    inputs = pd.read_parquet(outcome.batch_input)
    assert len(scored) == len(inputs) == outcome.batch_rows
    assert scored["customer_id"].tolist() == inputs["customer_id"].tolist()
    prediction = [c for c in scored.columns if c not in inputs.columns]
    assert len(prediction) == 1 and set(scored[prediction[0]]) <= {0, 1}
    assert outcome.stream is not None and outcome.stream_entries == STREAM_ENTRIES
    assert outcome.stream_scored == STREAM_ENTRIES
    connection = redis.Redis.from_url(redis_url)
    try:
        outputs = connection.xrange(f"{outcome.stream}:scores")
        inputs_ids = {i for i, _ in connection.xrange(outcome.stream)}
    finally:
        connection.close()
    assert {fields[b"input_id"] for _, fields in outputs} == inputs_ids  # each entry once
    assert len(outputs) == STREAM_ENTRIES


class _RecordedDemo:
    """Stands in for :func:`run_demo` in the tests of the ``demo`` command's own choices (which
    store, which folder, what it says first): it records its arguments and leaves what a demo
    leaves behind (a run in the demo's experiment, a data file, a model card). The whole demo runs
    in ``test_run_demo_goes_from_files_to_a_governed_champion`` and, through the CLI, in
    ``test_next_steps.py``."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, client: Client, workdir: Path, **kwargs: Any) -> None:
        self.calls.append({"workdir": workdir, "data_left": (workdir / "data").exists(), **kwargs})
        client.tracking.get_or_create_experiment(EXPERIMENT)
        run = client.tracking.create_run(EXPERIMENT, name=f"demo-{len(self.calls)}")
        client.tracking.end_run(run.id)
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        (workdir / "data" / "churn_labels.parquet").write_bytes(b"PAR1")
        (workdir / "model-card-churn-1.md").write_text("# churn/1\n")


@pytest.fixture
def recorded_demo(monkeypatch: pytest.MonkeyPatch) -> _RecordedDemo:
    recorded = _RecordedDemo()
    monkeypatch.setattr("shipyard.demo.scenario.run_demo", recorded)
    return recorded


def _runs(home: Path) -> list[str]:
    client = Client(load_settings(home=home))
    try:
        return sorted(r.name for r in client.tracking.search_runs([EXPERIMENT]))
    finally:
        client.close()


def test_demo_command_uses_a_fresh_folder_and_starts_clean_when_run_again(
    tmp_path: Path, recorded_demo: _RecordedDemo
) -> None:
    result = invoke("demo", "--dir", "here", "--rows", str(ROWS), "--seed", "2")
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    here = tmp_path / "here"
    [call] = recorded_demo.calls
    assert call["workdir"] == here and call["seed"] == 2 and call["rows"] == ROWS
    assert call["first_step"] == f"cd {here}"  # the suggested commands need that folder's settings
    assert call["redis_url"] is None  # no Redis configured: the stream stage is skipped
    assert (here / ".shipyard" / "shipyard.db").is_file() and not (tmp_path / ".shipyard").exists()
    assert _runs(here / ".shipyard") == ["demo-1"]
    assert "Starting clean" not in result.stdout

    again = invoke("demo", "--dir", "here", "--rows", str(ROWS))
    assert again.exit_code == 0, (again.stdout, again.stderr, again.exception)
    assert "Starting clean: removed the previous demo's store and data" in again.stdout
    assert "model-card-churn-1.md" in again.stdout
    assert recorded_demo.calls[1]["data_left"] is False
    assert _runs(here / ".shipyard") == ["demo-2"]  # the first run's store is gone, not added to


def test_demo_command_respects_configured_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_demo: _RecordedDemo
) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "configured"))
    monkeypatch.setenv("SHIPYARD_DEMO_REDIS_URL", "redis://127.0.0.1:6379/0")
    result = invoke("demo", "--dir", "here", "--rows", str(ROWS))
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    [call] = recorded_demo.calls
    assert call["first_step"] is None  # no `cd`: the settings are the user's
    assert call["redis_url"] == "redis://127.0.0.1:6379/0"
    assert _runs(tmp_path / "configured") == ["demo-1"]
    assert not (tmp_path / "here" / ".shipyard").exists()
    assert "Adding to the configured store" not in result.stdout
    # Run again on the same configured store, it says that it adds to it, and removes nothing.
    again = invoke("demo", "--dir", "here", "--rows", str(ROWS))
    assert again.exit_code == 0, (again.stdout, again.stderr, again.exception)
    assert "Adding to the configured store" in again.stdout and "1 runs" in again.stdout
    assert "Starting clean" not in again.stdout
    assert _runs(tmp_path / "configured") == ["demo-1", "demo-2"]


def _wait_inside_the_sweep(demo: subprocess.Popen[str], db: Path, timeout: float = 120) -> None:
    """Return once a candidate run of the sweep is running (read from the demo's own database)."""
    query = (
        "SELECT 1 FROM runs c JOIN runs p ON c.parent_id = p.id "
        "WHERE p.name = 'model-sweep' AND c.status = 'RUNNING'"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert demo.poll() is None, f"the demo ended early: {demo.communicate()[1]}"
        if db.exists():
            try:
                with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
                    if conn.execute(query).fetchone():
                        return
            except sqlite3.OperationalError:  # the schema is not there yet
                pass
        time.sleep(0.05)
    demo.kill()
    pytest.fail(f"no candidate run started within {timeout:.0f} s")


def test_ctrl_c_stops_the_demo_with_exit_130_and_marks_the_runs(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    demo = subprocess.Popen(
        [sys.executable, "-m", "shipyard.cli.main", "demo", "--dir", "here", "--rows", "1200"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # A pytest started in the background ignores SIGINT, and so would its children.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    _wait_inside_the_sweep(demo, tmp_path / "here" / ".shipyard" / "shipyard.db")
    demo.send_signal(signal.SIGINT)
    try:  # the interrupted step finishes its current model fit first; a loaded machine is slow
        _, stderr = demo.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        demo.kill()
        _, stderr = demo.communicate()
        pytest.fail(f"the demo did not stop within 180 s of Ctrl-C; its stderr ends: {stderr[-2000:]}")
    assert demo.returncode == 130
    assert "Traceback" not in stderr
    client = Client(load_settings(home=tmp_path / "here" / ".shipyard"))
    try:
        statuses = {r.name: r.status for r in client.tracking.search_runs(["churn"])}
    finally:
        client.close()
    assert statuses["model-sweep"] is RunStatus.KILLED
    assert RunStatus.RUNNING not in statuses.values()
    assert RunStatus.KILLED in {s for name, s in statuses.items() if name != "model-sweep"}


def test_the_demo_refuses_remote_mode_before_doing_anything(tmp_path: Path) -> None:
    client = Client(load_settings(url="http://127.0.0.1:9", home=tmp_path / "home"))
    with pytest.raises(ConfigError, match="unset SHIPYARD_URL"):
        run_demo(client, tmp_path / "work", rows=ROWS, console=Console(file=io.StringIO()))
    assert not (tmp_path / "work").exists()
