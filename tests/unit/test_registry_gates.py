"""Promotion gates and approvals: measured on a real evaluation frame with real models, stored,
and enforced by transitions with messages that name the failed gate and by how much."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shipyard.app import App
from shipyard.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from shipyard.registry.entities import ApprovalStatus, FairnessLimits, GatePolicy, Stage
from support.registry_models import LABEL, churn_data, register


@pytest.fixture
def staged(app: App, tmp_path: Path) -> App:
    """churn/1 (a full model) and churn/2 (tenure only, weaker), both in staging."""
    register(app, tmp_path)
    register(app, tmp_path, features=["tenure_months"])
    for v in (1, 2):
        app.registry.transition("churn", v, "staging", actor="alice")
    return app


def evaluation() -> object:
    return churn_data()[1]


def test_a_metric_threshold_gate_blocks_and_then_allows_promotion(staged: App) -> None:
    app = staged
    app.registry.set_policy("churn", GatePolicy(min={"auc": 0.99}), actor="rita")
    with pytest.raises(Conflict, match="needs a passing gate evaluation") as unevaluated:
        app.registry.transition("churn", 1, "production", actor="dave")
    assert unevaluated.value.field == "gates"

    report = app.registry.evaluate_gates("churn", 1, "production", churn_data()[1], label=LABEL, actor="dave")
    [auc] = report.results
    assert auc.name == "min auc" and not auc.passed and auc.threshold == 0.99
    assert auc.measured is not None and 0.6 < auc.measured < 0.99
    assert auc.margin == pytest.approx(auc.measured - 0.99)
    with pytest.raises(Conflict) as refused:
        app.registry.transition("churn", 1, "production", actor="dave")
    assert re.search(r"min auc: 0\.\d+ < threshold 0\.99 \(by 0\.\d+\)", str(refused.value))

    # A new policy makes the old evaluation stale; evaluating under it lets the version through.
    app.registry.set_policy("churn", {"min": {"auc": 0.6}, "max": {"log_loss": 5.0}}, actor="rita")
    with pytest.raises(Conflict, match="needs a passing gate evaluation"):
        app.registry.transition("churn", 1, "production", actor="dave")
    assert app.registry.evaluate_gates(
        "churn", 1, "production", churn_data()[1], label=LABEL, actor="dave"
    ).passed
    assert app.registry.transition("churn", 1, "production", actor="dave").stage is Stage.PRODUCTION
    assert [r.passed for r in app.registry.gate_reports("churn", 1)] == [False, True]


def test_gates_only_cover_the_stages_the_policy_names(staged: App) -> None:
    staged.registry.set_policy(
        "churn", GatePolicy(stages=(Stage.PRODUCTION,), min={"auc": 0.99}), actor="rita"
    )
    assert staged.registry.transition("churn", 2, "archived", actor="alice").stage is Stage.ARCHIVED


def test_fairness_gate_reports_the_disparity_and_by_how_much(staged: App) -> None:
    app = staged
    strict = FairnessLimits(
        "age_band", max_demographic_parity_difference=0.0, max_equalized_odds_difference=1.0
    )
    app.registry.set_policy("churn", GatePolicy(fairness=strict), actor="rita")
    report = app.registry.evaluate_gates("churn", 1, "production", churn_data()[1], label=LABEL, actor="dave")
    by_name = {r.name: r for r in report.results}
    parity = by_name["fairness demographic_parity_difference"]
    assert not parity.passed and parity.measured is not None and parity.measured > 0
    assert by_name["fairness equalized_odds_difference"].passed
    with pytest.raises(Conflict) as refused:
        app.registry.transition("churn", 1, "production", actor="dave")
    expected = f"fairness: demographic_parity_difference {parity.measured:.2f} > limit 0.00 (by {parity.measured:.2f})"
    assert expected in str(refused.value)


def test_fairness_needs_the_sensitive_column(staged: App) -> None:
    staged.registry.set_policy(
        "churn",
        GatePolicy(fairness=FairnessLimits("age_band", max_demographic_parity_difference=0.1)),
        actor="rita",
    )
    frame = churn_data()[1].drop(columns=["age_band"])
    with pytest.raises(InvalidInput, match="sensitive column 'age_band'"):
        staged.registry.evaluate_gates("churn", 1, "production", frame, label=LABEL, actor="dave")


def test_a_candidate_must_beat_the_champion_on_the_same_data(staged: App) -> None:
    app = staged
    app.registry.set_alias("churn", "champion", 1, actor="dave")
    app.registry.set_policy("churn", GatePolicy(beat_champion_by=0.01, champion_metric="auc"), actor="rita")
    weak = app.registry.evaluate_gates("churn", 2, "production", churn_data()[1], label=LABEL, actor="dave")
    [gate] = weak.results
    assert gate.name == "beats champion on auc" and not gate.passed
    assert "vs champion churn/1" in gate.detail and gate.measured is not None and gate.measured < 0
    # The champion itself has nothing to beat.
    own = app.registry.evaluate_gates("churn", 1, "production", churn_data()[1], label=LABEL, actor="dave")
    assert own.passed and own.results[0].detail == "no champion to beat"


def test_data_validation_gate(staged: App, tmp_path: Path) -> None:
    app = staged
    app.registry.set_policy("churn", GatePolicy(require_validation=True), actor="rita")
    frame = churn_data()[1].copy()
    assert app.registry.evaluate_gates("churn", 1, "production", frame, label=LABEL, actor="dave").passed
    frame.loc[3, "tenure_months"] = None
    frame.loc[5, "contract"] = None
    [gate] = app.registry.evaluate_gates("churn", 1, "production", frame, label=LABEL, actor="dave").results
    assert not gate.passed and "column 'tenure_months' has 1 missing value(s) (also: contract)" in gate.detail
    missing = churn_data()[1].drop(columns=["contract"])
    [gate] = app.registry.evaluate_gates("churn", 1, "production", missing, label=LABEL, actor="dave").results
    assert not gate.passed and "missing column(s) 'contract'" in gate.detail
    # A pipeline that validated its data tags the run, and the gate trusts that.
    tagged = register(app, tmp_path, tags={"shipyard.validation": "passed"})
    [gate] = app.registry.evaluate_gates(
        "churn", tagged.version, "production", churn_data()[1], label=LABEL, actor="dave"
    ).results
    assert gate.passed and "shipyard.validation=passed" in gate.detail


def test_evaluation_input_is_checked(staged: App) -> None:
    with pytest.raises(NotFound, match="no gate policy"):
        staged.registry.evaluate_gates("churn", 1, "production", churn_data()[1], label=LABEL, actor="dave")
    staged.registry.set_policy("churn", GatePolicy(min={"accuracy": 0.5}), actor="rita")
    with pytest.raises(InvalidInput, match="label column 'target'") as no_label:
        staged.registry.evaluate_gates(
            "churn", 1, "production", churn_data()[1], label="target", actor="dave"
        )
    assert no_label.value.field == "label"


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"min": {"auc": "high"}}, "policy.min.auc"),
        ({"minimum": {}}, "policy.minimum"),
        ({"stages": ["live"]}, "policy.stages"),
        ({"fairness": {"max_demographic_parity_difference": 0.1}}, "policy.fairness.sensitive"),
        ({"require_approval": "yes"}, "policy.require_approval"),
        ({"min": {"accuracyy": 0.5}}, "policy.min.accuracyy"),
    ],
)
def test_bad_policies_name_the_field(staged: App, policy: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as bad:
        staged.registry.set_policy("churn", policy, actor="rita")
    assert bad.value.field == field


def test_policy_round_trips(staged: App) -> None:
    policy = GatePolicy(
        stages=(Stage.STAGING, Stage.PRODUCTION),
        min={"auc": 0.7},
        beat_champion_by=0.0,
        fairness=FairnessLimits("age_band", 0.2, None),
        require_approval=True,
    )
    staged.registry.set_policy("churn", policy, actor="rita")
    assert staged.registry.get_policy("churn") == policy
    staged.registry.set_policy("churn", None, actor="rita")
    assert staged.registry.get_policy("churn") is None


def test_approval_by_another_reviewer_is_required(staged: App) -> None:
    app = staged
    app.registry.set_policy("churn", GatePolicy(require_approval=True), actor="rita")
    with pytest.raises(PermissionDenied, match="no approval was requested"):
        app.registry.transition("churn", 1, "production", actor="alice")
    request = app.registry.request_approval("churn", 1, "production", actor="alice", comment="ready")
    assert request.status is ApprovalStatus.PENDING
    with pytest.raises(PermissionDenied, match=f"request {request.id} is pending"):
        app.registry.transition("churn", 1, "production", actor="alice")
    with pytest.raises(PermissionDenied, match="cannot decide it"):
        app.registry.decide_approval(request.id, True, actor="alice")
    decided = app.registry.decide_approval(request.id, True, actor="rita", comment="looks good")
    assert (decided.status, decided.decided_by, decided.decision_comment) == (
        ApprovalStatus.APPROVED,
        "rita",
        "looks good",
    )
    with pytest.raises(Conflict, match="already approved by rita"):
        app.registry.decide_approval(request.id, False, actor="sam")
    assert app.registry.transition("churn", 1, "production", actor="dave").stage is Stage.PRODUCTION
    actions = [r.action for r in app.audit.list(model="churn", action="approval.")]
    assert actions == ["approval.request", "approval.decide"]


def test_a_rejected_request_does_not_open_the_gate(staged: App) -> None:
    app = staged
    app.registry.set_policy("churn", GatePolicy(require_approval=True), actor="rita")
    request = app.registry.request_approval("churn", 1, "production", actor="alice")
    assert app.registry.decide_approval(request.id, False, actor="rita").status is ApprovalStatus.REJECTED
    with pytest.raises(PermissionDenied):
        app.registry.transition("churn", 1, "production", actor="dave")
    with pytest.raises(NotFound, match="approval request 'nope'"):
        app.registry.decide_approval("nope", True, actor="rita")
    with pytest.raises(Conflict, match="cannot move from staging to registered"):
        app.registry.request_approval("churn", 1, "registered", actor="alice")
    assert [a.status for a in app.registry.list_approvals("churn", 1)] == [ApprovalStatus.REJECTED]


def test_approval_shows_in_the_gate_report(staged: App) -> None:
    app = staged
    app.registry.set_policy("churn", GatePolicy(min={"accuracy": 0.5}, require_approval=True), actor="rita")
    report = app.registry.evaluate_gates("churn", 1, "production", churn_data()[1], label=LABEL, actor="dave")
    assert [(r.name, r.passed) for r in report.results] == [("min accuracy", True), ("approval", False)]
    # The measured gates passed: only the approval is missing, and that is a permission matter.
    with pytest.raises(PermissionDenied):
        app.registry.transition("churn", 1, "production", actor="dave")


def test_data_a_gate_cannot_measure_is_invalid_input_not_a_crash(staged: App) -> None:
    app = staged
    app.registry.set_policy("churn", GatePolicy(stages=("production",), min={"f1": 0.1}), actor="rita")  # type: ignore[arg-type]
    frame = churn_data()[1].copy()
    frame[LABEL] = frame["age_band"]  # four classes: a binary F1 does not apply
    with pytest.raises(InvalidInput, match="metric 'f1' cannot be measured") as bad:
        app.registry.evaluate_gates("churn", 1, "production", frame, label=LABEL, actor="dave")
    assert bad.value.field == "label"
    wrong_type = churn_data()[1].copy()
    wrong_type["tenure_months"] = "long"
    with pytest.raises(InvalidInput, match="does not fit the model"):
        app.registry.evaluate_gates("churn", 1, "production", wrong_type, label=LABEL, actor="dave")


def test_a_validated_run_still_needs_data_the_model_can_score(app: App, tmp_path: Path) -> None:
    register(app, tmp_path, tags={"shipyard.validation": "passed"})
    app.registry.set_policy("churn", GatePolicy(require_validation=True), actor="rita")
    frame = churn_data()[1].drop(columns=["contract"])
    with pytest.raises(InvalidInput, match="does not fit the model"):
        app.registry.evaluate_gates("churn", 1, "production", frame, label=LABEL, actor="dave")
    assert app.registry.gate_reports("churn", 1) == []
