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

import numpy as np
import pytest
from rich.console import Console

from shipyard.client import Client
from shipyard.config import load_settings
from shipyard.demo.data import generate_churn_data, split_by_time
from shipyard.demo.models import CANDIDATES, FEATURES
from shipyard.demo.scenario import run_demo
from shipyard.errors import ConfigError
from shipyard.tracking.model import RunStatus
from support.cli import invoke, isolate

ROWS = 600  # 50 customers x 12 months: seconds, not minutes


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


def test_run_demo_goes_from_files_to_a_governed_champion(tmp_path: Path) -> None:
    client = Client(load_settings(home=tmp_path / "home"))
    buffer = io.StringIO()
    try:
        result = run_demo(
            client, tmp_path / "work", seed=1, rows=ROWS, console=Console(file=buffer, width=200)
        )
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
        shown = buffer.getvalue()
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
    finally:
        client.close()
    text = buffer.getvalue()
    assert "Models by validation ROC AUC" in text and "What to look at next" in text
    assert f"shipyard runs show {result.best_run_id}" in text
    assert f"shipyard lineage {result.best_run_id}" in text
    assert "shipyard models card churn@champion" in text
    assert 'shipyard runs search "metrics.roc_auc > 0.8"' in text


def test_demo_command_uses_a_fresh_folder(tmp_path: Path) -> None:
    result = invoke("demo", "--dir", "here", "--rows", str(ROWS), "--seed", "2")
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    home = tmp_path / "here" / ".shipyard"
    assert (home / "shipyard.db").is_file() and (
        tmp_path / "here" / "data" / "churn_labels.parquet"
    ).is_file()
    assert not (tmp_path / ".shipyard").exists()
    assert f"cd {tmp_path / 'here'}" in result.stdout  # the suggested commands need that folder's settings
    client = Client(load_settings(home=home))
    try:
        runs = client.tracking.search_runs(["churn"], order_by=["metrics.roc_auc DESC"])
        best = next(r for r in runs if r.parent_id is not None)
        assert f"shipyard runs show {best.id}" in result.stdout
    finally:
        client.close()


def test_demo_command_respects_configured_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "configured"))
    result = invoke("demo", "--dir", "here", "--rows", str(ROWS))
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    assert (tmp_path / "configured" / "shipyard.db").is_file()
    assert not (tmp_path / "here" / ".shipyard").exists()
    assert "then, in the same shell" not in result.stdout  # no `cd`: the settings are the user's
    assert "\ncd " not in result.stdout
    # Run again on the same configured store, it says that it adds to it.
    again = invoke("demo", "--dir", "here", "--rows", str(ROWS))
    assert again.exit_code == 0, (again.stdout, again.stderr, again.exception)
    assert "Adding to the configured store" in again.stdout


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
    _, stderr = demo.communicate(timeout=60)
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
