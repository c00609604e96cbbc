"""``shipyard models`` end to end: models trained and logged through the SDK client, registered,
promoted, gated, approved, compared, documented and exported with the CLI, on a real SQLite
database and artifact folder under ``tmp_path``; user mistakes are one line on stderr, exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from shipyard.cli import output
from shipyard.client import Client
from shipyard.config import load_settings
from support.cli import fails, invoke, isolate, ok
from support.databases import seed_embedded_home
from support.registry_models import FEATURES, LABEL, churn_data, train


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(monkeypatch, tmp_path, home=seed_embedded_home(tmp_path / "home"), user="alice")
    return tmp_path / "home"


def log_models(features_per_model: list[list[str]]) -> list[str]:
    """One run per model, each logging its training data and the packaged model; returns run ids."""
    train_frame, _ = churn_data()
    ids = []
    with Client(load_settings()) as client:
        for features in features_per_model:
            with client.start_run("churn") as run:
                model = train(features)
                run.log_params({"features": ",".join(features)})
                run.log_metric(
                    "accuracy", float((model.predict(train_frame[features]) == train_frame[LABEL]).mean())
                )
                run.log_dataset(train_frame, name="churn-train", context="training")
                run.log_model(model, input_example=train_frame[features].head(5))
                ids.append(run.id)
    return ids


def test_register_promote_alias_rollback(tmp_path: Path) -> None:
    first, second = log_models([FEATURES, FEATURES])
    assert "Registered churn/1" in ok("models", "register", "churn", "--run", first)
    ok("models", "register", "churn", "--run", second, "--description", "retrained")
    listed = json.loads(ok("models", "list", "--json"))
    assert [(m["name"], m["latest_version"]) for m in listed] == [("churn", 2)]

    for version in ("1", "2"):
        ok("models", "transition", f"churn/{version}", "staging")
        assert "is now production" in ok(
            "models", "transition", f"churn/{version}", "production", "-m", "ship"
        )
    ok("models", "alias", "churn/2", "champion")
    shown = json.loads(ok("models", "show", "churn@champion", "--json"))
    assert (shown["version"], shown["stage"], shown["aliases"]) == (2, "production", ["champion"])
    assert shown["description"] == "retrained" and shown["created_by"] == "alice"

    assert "churn/1 is in production again" in ok("models", "rollback", "churn")
    versions = json.loads(ok("models", "versions", "churn", "--json"))
    assert [(v["version"], v["stage"], v["aliases"]) for v in versions] == [
        (1, "production", ["champion"]),
        (2, "archived", []),
    ]
    table = ok("models", "show", "churn")
    assert "production" in table and "archived" in table
    ok("models", "tag", "churn/1", "owner=growth")
    assert json.loads(ok("models", "show", "churn/1", "--json"))["tags"] == {"owner": "growth"}


def test_user_mistakes_are_one_line(tmp_path: Path) -> None:
    [run_id] = log_models([FEATURES])
    ok("models", "register", "churn", "--run", run_id)
    assert fails("models", "show", "nope") == "error: model 'nope' does not exist"
    assert "has no version 5" in fails("models", "show", "churn/5")
    assert "has no alias 'gold'" in fails("models", "show", "churn@gold")
    assert "names no version" in fails("models", "transition", "churn", "staging")
    assert (
        "cannot move from registered to production (legal from registered: archived, retired, staging)"
        in fails("models", "transition", "churn/1", "production")
    )
    assert "unknown stage 'live'" in fails("models", "transition", "churn/1", "live")
    assert "does not exist" in fails("models", "register", "churn", "--run", "0" * 32)
    assert "--format must be md or html" in fails("models", "card", "churn/1", "--format", "pdf")
    assert "not valid JSON" in fails("models", "policy", "churn", "--set", "{min")


def test_gates_approvals_card_compare_and_onnx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    full, weak = log_models([FEATURES, ["tenure_months"]])
    ok("models", "register", "churn", "--run", full, "--limitations", "Not for business customers.")
    ok("models", "register", "churn", "--run", weak)
    for version in ("1", "2"):
        ok("models", "transition", f"churn/{version}", "staging")
    evaluation = tmp_path / "eval.csv"
    churn_data()[1].to_csv(evaluation, index=False)
    policy = {"min": {"auc": 0.83}, "require_approval": True}  # full model 0.86, tenure only 0.79
    ok("models", "policy", "churn", "--set", json.dumps(policy))
    assert json.loads(ok("models", "policy", "churn", "--json"))["min"] == {"auc": 0.83}

    # The weak model fails the AUC gate: the command shows the table and exits 1.
    failed = invoke("models", "gates", "churn/2", "--data", str(evaluation), "--label", LABEL)
    assert failed.exit_code == 1 and "min auc" in failed.stdout and "threshold" in failed.stdout
    assert "min auc" in fails("models", "transition", "churn/2", "production")

    passed = invoke("models", "gates", "churn/1", "--data", str(evaluation), "--label", LABEL, "--json")
    results = {r["name"]: r["passed"] for r in json.loads(passed.stdout)["results"]}
    assert results == {"min auc": True, "approval": False}

    request = json.loads(ok("models", "request-approval", "churn/1", "--stage", "production", "--json"))
    assert "cannot decide it" in fails("models", "approve", request["id"])
    assert "needs approval" in fails("models", "transition", "churn/1", "production")
    monkeypatch.setenv("SHIPYARD_USER", "rita")
    assert "approved" in ok("models", "approve", request["id"], "-m", "checked the card")
    monkeypatch.setenv("SHIPYARD_USER", "dave")
    ok("models", "transition", "churn/1", "production")

    card = tmp_path / "card.html"
    ok("models", "card", "churn/1", "--format", "html", "--output", str(card))
    html = card.read_text()
    assert "Not for business customers." in html and "checked the card" in html and "rita" in html
    markdown = ok("models", "card", "churn/1")
    assert markdown.startswith("# Model card: churn version 1")
    for section in (
        "## Intended use",
        "## Training data lineage",
        "## Metrics",
        "## Fairness",
        "## Limitations",
    ):
        assert section in markdown

    compared = json.loads(ok("models", "compare", "churn/1", "churn/2", "--json"))
    assert compared["features_removed"] == ["contract", "monthly_charges", "payment_method", "support_calls"]
    assert "accuracy" in compared["metrics"]

    target = tmp_path / "churn.onnx"
    exported = ok("models", "export-onnx", "churn/1", "--output", str(target))
    assert "ONNX parity" in exported and "input_example" in exported
    onnx.checker.check_model(onnx.load(str(target)))


def test_versions_are_named_alike_everywhere_and_runs_by_a_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = log_models([FEATURES, FEATURES])
    # ids start with their creation time: runs made together share a prefix, which is ambiguous
    shared = next(first[:n] for n in range(32, 0, -1) if second.startswith(first[:n]))
    assert len(shared) >= 4
    ambiguous = fails("models", "register", "churn", "--run", shared)
    assert "is ambiguous" in ambiguous and first in ambiguous and second in ambiguous
    assert f"Registered churn/1 from run {first}" in ok("models", "register", "churn", "--run", first[:16])
    ok("models", "register", "churn", "--run", second.upper()[:18])  # a prefix, any case
    monkeypatch.setattr(output.console, "_width", 100)  # a narrow terminal still shows ids whole
    listing = ok("models", "show", "churn")
    assert first in listing and second in listing and "…" not in listing

    assert json.loads(ok("models", "show", "churn", "2", "--json"))["run_id"] == second
    assert "is now staging" in ok("models", "transition", "churn", "1", "staging")
    assert "is now staging" in ok("models", "transition", "churn/2", "staging")
    requested = json.loads(ok("models", "request-approval", "churn/1", "production", "--json"))
    assert (requested["version"], requested["target_stage"]) == (1, "production")
    requested = json.loads(ok("models", "request-approval", "churn", "2", "production", "--json"))
    assert (requested["version"], requested["target_stage"]) == (2, "production")
    assert "churn@challenger → version 2" in ok("models", "alias", "churn", "2", "challenger")
    assert ok("models", "card", "churn", "1") == ok("models", "card", "churn/1")
    assert "transition NAME/VERSION STAGE" in fails("models", "transition", "churn", "1")
    assert "unexpected 'extra'" in fails("models", "request-approval", "churn/1", "production", "extra")

    shown = ok("runs", "show", first[:20])
    assert first in shown
    assert "no run id starts with" in fails(
        "models", "register", "churn", "--run", _absent_prefix([first, second])
    )
    assert "is not a run id" in fails("runs", "show", "xyz1")
    assert "is not a run id" in fails("runs", "show", first[:3])


def _absent_prefix(ids: list[str]) -> str:
    return next(p for p in (f"{i:04x}" for i in range(65536)) if not any(r.startswith(p) for r in ids))


def test_audit_list_shows_one_line_per_record_with_a_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    (run_id,) = log_models([FEATURES])
    ok("models", "register", "churn", "--run", run_id, "--description", "x" * 300)
    ok("models", "transition", "churn/1", "staging")
    monkeypatch.setattr(output.console, "_width", 120)
    records = json.loads(ok("audit", "list", "--json"))
    text = ok("audit", "list")
    lines = text.splitlines()
    for record in records:
        mine = [line for line in lines if line.split()[:1] == [str(record["seq"])]]
        assert len(mine) == 1, (record, text)
    assert all(len(line) <= 120 for line in lines)
    assert "stage: registered→staging" in text
    assert '{"' not in text  # no raw JSON in the table; --json has it
    assert records[-1]["after"]["stage"] == "staging"
