"""What every RegistryAPI must do: the in-process service (SQLite, PostgreSQL) and
:class:`~shipyard.client.remote_registry.RemoteRegistry` through a live server. Runs are logged
in process into the stores behind the API; each test uses its own model name, so one App per
backend serves the whole module."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sklearn.pipeline import Pipeline

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from shipyard.migrations import runner
from shipyard.registry.api import RegistryAPI
from shipyard.registry.entities import ApprovalStatus, GatePolicy, ModelVersion, Stage
from support.databases import fresh_postgres_database
from support.registry_models import FEATURES, LABEL, churn_data, log_trained_run, train

USER = "alice"  # requests, registers and deploys (admin)
OTHER = "rita"  # a reviewer: the second pair of eyes


@dataclass
class Registry:
    """An API under test, the App whose stores it uses, and the same API acting as OTHER."""

    app: App
    api: RegistryAPI
    other: RegistryAPI
    tmp: Path
    model: Pipeline

    def register(self, name: str, **kwargs: object) -> ModelVersion:
        run_id = log_trained_run(self.app, self.tmp, self.model)
        return self.api.create_version(name, run_id, actor=USER, **kwargs)  # type: ignore[arg-type]

    def staged(self, name: str) -> ModelVersion:
        v = self.register(name)
        return self.api.transition(name, v.version, "staging", actor=USER)


def _app(home: Path, db_url: str | None = None) -> App:
    app = build_app(load_settings(home=home, db_url=db_url, artifacts=str(home / "artifacts")), migrate=False)
    runner.upgrade(app.db)
    return app


@pytest.fixture(scope="module")
def trained() -> Pipeline:
    return train()


@pytest.fixture(scope="module")
def sqlite_registry(tmp_path_factory: pytest.TempPathFactory, trained: Pipeline) -> Iterator[Registry]:
    home = tmp_path_factory.mktemp("registry-sqlite")
    app = _app(home)
    yield Registry(app, app.registry, app.registry, home, trained)
    app.close()


@pytest.fixture(scope="module")
def postgres_registry(tmp_path_factory: pytest.TempPathFactory, trained: Pipeline) -> Iterator[Registry]:
    with fresh_postgres_database() as url:
        home = tmp_path_factory.mktemp("registry-postgres")
        app = _app(home, url)
        yield Registry(app, app.registry, app.registry, home, trained)
        app.close()


@pytest.fixture(scope="module")
def remote_registry(tmp_path_factory: pytest.TempPathFactory, trained: Pipeline) -> Iterator[Registry]:
    from shipyard.client.remote_registry import RemoteRegistry
    from support.live_server import start_live_server

    home = tmp_path_factory.mktemp("registry-remote")
    app = _app(home)
    app.accounts.create_user(USER, role="admin")
    app.accounts.create_user(OTHER, role="reviewer")
    server = start_live_server(app)
    api = RemoteRegistry(server.url, app.accounts.create_token(USER).secret)
    other = RemoteRegistry(server.url, app.accounts.create_token(OTHER).secret)
    yield Registry(app, api, other, home, trained)
    api.close()
    other.close()
    server.stop()
    app.close()


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def reg(request: pytest.FixtureRequest) -> Registry:
    registry: Registry = request.getfixturevalue(f"{request.param}_registry")
    return registry


@pytest.fixture
def name() -> str:
    return f"churn-{uuid.uuid4().hex[:8]}"


# -- versions ---------------------------------------------------------------------------------------


def test_a_version_is_registered_from_a_run(reg: Registry, name: str) -> None:
    v = reg.register(name, description="weekly retrain", tags={"team": "growth"})
    assert (v.model, v.version, v.stage, v.created_by) == (name, 1, Stage.REGISTERED, USER)
    assert v.flavor == "sklearn" and v.artifact_digest.startswith("sha256:")
    assert v.metrics["accuracy"] > 0.5 and v.params["features"] == ",".join(FEATURES)
    assert v.training_data is not None and v.training_data.name == "churn-train"
    assert (v.description, dict(v.tags)) == ("weekly retrain", {"team": "growth"})
    assert reg.api.get_version(name, 1) == v
    assert reg.api.resolve(f"{name}/1") == v
    second = reg.register(name)
    assert second.version == 2
    assert [x.version for x in reg.api.list_versions(name)] == [1, 2]
    model = reg.api.get_model(name)
    assert (model.latest_version, model.production_versions) == (2, ())
    assert name in [m.name for m in reg.api.list_models()]


def test_a_run_without_a_model_package_is_refused(reg: Registry, name: str) -> None:
    with pytest.raises(NotFound):
        reg.api.create_version(name, "0" * 32, actor=USER)
    with pytest.raises(NotFound):
        reg.api.get_model(name)  # nothing half-created


def test_descriptions_and_tags_change(reg: Registry, name: str) -> None:
    reg.register(name)
    assert reg.api.update_model(name, description="who leaves", actor=USER).description == "who leaves"
    updated = reg.api.update_version(name, 1, limitations="synthetic data", actor=USER)
    assert updated.limitations == "synthetic data"
    reg.api.set_tags(name, {"owner": "growth"}, actor=USER)
    reg.api.set_tags(name, {"reviewed": "yes", "k": "v"}, version=1, actor=USER)
    reg.api.delete_tag(name, "k", version=1, actor=USER)
    assert reg.api.get_model(name).tags == {"owner": "growth"}
    assert reg.api.get_version(name, 1).tags == {"reviewed": "yes"}


# -- lifecycle --------------------------------------------------------------------------------------


def test_lifecycle_keeps_one_production_version(reg: Registry, name: str) -> None:
    reg.staged(name)
    reg.staged(name)
    assert reg.api.transition(name, 1, Stage.PRODUCTION, actor=USER, comment="ship").stage is Stage.PRODUCTION
    reg.api.transition(name, 2, "production", actor=USER)
    assert [(v.version, v.stage) for v in reg.api.list_versions(name)] == [
        (1, Stage.ARCHIVED),
        (2, Stage.PRODUCTION),
    ]
    assert reg.api.resolve(f"{name}@production").version == 2
    assert [v.version for v in reg.api.list_versions(name, "production")] == [2]
    history = reg.api.history(name, 1)
    assert [(t.from_stage, t.to_stage) for t in history] == [
        (None, Stage.REGISTERED),
        (Stage.REGISTERED, Stage.STAGING),
        (Stage.STAGING, Stage.PRODUCTION),
        (Stage.PRODUCTION, Stage.ARCHIVED),
    ]
    assert history[2].comment == "ship" and history[2].actor == USER
    assert reg.api.transition(name, 1, "retired", actor=USER).stage is Stage.RETIRED


@pytest.mark.parametrize(
    ("moves", "target", "message"),
    [
        ((), "production", "cannot move from registered to production"),
        (("staging",), "registered", "cannot move from staging to registered"),
        (("retired",), "staging", "legal from retired: none: retired is final"),
    ],
)
def test_an_illegal_transition_is_a_conflict_naming_the_legal_moves(
    reg: Registry, name: str, moves: tuple[str, ...], target: str, message: str
) -> None:
    reg.register(name)
    for stage in moves:
        reg.api.transition(name, 1, stage, actor=USER)
    with pytest.raises(Conflict, match=message) as refused:
        reg.api.transition(name, 1, target, actor=USER)
    assert refused.value.field == "stage"
    with pytest.raises(InvalidInput, match="stage"):
        reg.api.transition(name, 1, "heaven", actor=USER)


def test_rollback_restores_the_previous_production_version(reg: Registry, name: str) -> None:
    reg.staged(name)
    reg.staged(name)
    with pytest.raises(Conflict):
        reg.api.rollback(name, actor=USER)  # nothing in production yet
    reg.api.transition(name, 1, "production", actor=USER)
    reg.api.transition(name, 2, "production", actor=USER)
    restored = reg.api.rollback(name, actor=USER, comment="v2 misbehaves")
    assert (restored.version, restored.stage) == (1, Stage.PRODUCTION)
    assert reg.api.get_version(name, 2).stage is Stage.ARCHIVED
    assert reg.api.history(name, 1)[-1].comment == "v2 misbehaves"


# -- aliases ----------------------------------------------------------------------------------------


def test_aliases_point_at_one_version(reg: Registry, name: str) -> None:
    reg.register(name)
    reg.register(name)
    assert reg.api.set_alias(name, "champion", 1, actor=USER).aliases == ("champion",)
    reg.api.set_alias(name, "champion", 2, actor=USER)
    assert reg.api.resolve(f"{name}@champion").version == 2
    assert reg.api.get_version(name, 1).aliases == ()
    assert reg.api.get_model(name).aliases == {"champion": 2}
    with pytest.raises(InvalidInput, match="reserved"):
        reg.api.set_alias(name, "production", 1, actor=USER)
    reg.api.delete_alias(name, "champion", actor=USER)
    with pytest.raises(NotFound, match="'champion'"):
        reg.api.resolve(f"{name}@champion")


# -- gates and approvals ----------------------------------------------------------------------------


def test_gates_refuse_promotion_naming_the_failed_gate(reg: Registry, name: str) -> None:
    reg.staged(name)
    policy = GatePolicy(min={"auc": 0.99})
    assert reg.api.set_policy(name, policy, actor=USER) == policy
    assert reg.api.get_policy(name) == policy
    with pytest.raises(Conflict, match="needs a passing gate evaluation"):
        reg.api.transition(name, 1, "production", actor=USER)

    evaluation = churn_data()[1]
    report = reg.api.evaluate_gates(name, 1, "production", evaluation, label=LABEL, actor=USER)
    [auc] = report.results
    assert not report.passed and auc.name == "min auc" and auc.threshold == 0.99
    assert auc.measured is not None and 0.6 < auc.measured < 0.99
    with pytest.raises(
        Conflict, match=r"refused by promotion gates: min auc: 0\.\d+ < threshold 0\.99"
    ) as no:
        reg.api.transition(name, 1, "production", actor=USER)
    assert no.value.field == "gates"
    assert [r.id for r in reg.api.gate_reports(name, 1)] == [report.id]

    reg.api.set_policy(name, {"min": {"auc": 0.6}}, actor=USER)
    assert reg.api.evaluate_gates(name, 1, "production", evaluation, label=LABEL, actor=USER).passed
    assert reg.api.transition(name, 1, "production", actor=USER).stage is Stage.PRODUCTION
    assert reg.api.set_policy(name, None, actor=USER) is None
    assert reg.api.get_policy(name) is None


def test_gate_evaluation_checks_its_input(reg: Registry, name: str) -> None:
    reg.staged(name)
    with pytest.raises(NotFound, match="no gate policy"):
        reg.api.evaluate_gates(name, 1, "production", churn_data()[1], label=LABEL, actor=USER)
    reg.api.set_policy(name, {"min": {"auc": 0.6}}, actor=USER)
    with pytest.raises(InvalidInput):
        reg.api.evaluate_gates(name, 1, "production", churn_data()[1], label="nope", actor=USER)
    with pytest.raises(InvalidInput, match="DataFrame"):
        reg.api.evaluate_gates(name, 1, "production", [{"a": 1}], label=LABEL, actor=USER)  # type: ignore[arg-type]
    assert reg.api.gate_reports(name, 1) == []


def test_approving_your_own_request_is_denied_another_reviewer_may(reg: Registry, name: str) -> None:
    reg.staged(name)
    reg.api.set_policy(name, GatePolicy(require_approval=True), actor=USER)
    request = reg.api.request_approval(name, 1, "production", actor=USER, comment="ready")
    assert (request.status, request.requested_by, request.comment) == (ApprovalStatus.PENDING, USER, "ready")
    with pytest.raises(PermissionDenied, match=f"request {request.id} is pending"):
        reg.api.transition(name, 1, "production", actor=USER)
    with pytest.raises(PermissionDenied, match="cannot decide it"):
        reg.api.decide_approval(request.id, True, actor=USER)
    decided = reg.other.decide_approval(request.id, True, actor=OTHER, comment="looks good")
    assert (decided.status, decided.decided_by, decided.decision_comment) == (
        ApprovalStatus.APPROVED,
        OTHER,
        "looks good",
    )
    assert reg.api.list_approvals(name, 1) == [decided]
    assert reg.api.transition(name, 1, "production", actor=USER).stage is Stage.PRODUCTION


def test_a_rejected_request_keeps_the_gate_closed(reg: Registry, name: str) -> None:
    reg.staged(name)
    reg.api.set_policy(name, GatePolicy(require_approval=True), actor=USER)
    request = reg.api.request_approval(name, 1, "production", actor=USER)
    rejected = reg.other.decide_approval(request.id, False, actor=OTHER, model=name)
    assert rejected.status is ApprovalStatus.REJECTED
    with pytest.raises(PermissionDenied):
        reg.api.transition(name, 1, "production", actor=USER)


# -- lookups, comparison, cards, loading ------------------------------------------------------------


def test_unknown_model_version_alias_and_request_are_not_found(reg: Registry, name: str) -> None:
    with pytest.raises(NotFound, match=f"'{name}'"):
        reg.api.get_model(name)
    with pytest.raises(NotFound, match=f"'{name}'"):
        reg.api.list_versions(name)
    reg.register(name)
    with pytest.raises(NotFound, match="has no version 9"):
        reg.api.get_version(name, 9)
    with pytest.raises(NotFound, match="has no alias 'gold'"):
        reg.api.resolve(f"{name}@gold")
    with pytest.raises(NotFound, match="approval request 'nope'"):
        reg.other.decide_approval("nope", True, actor=OTHER)
    with pytest.raises(InvalidInput, match="model name"):
        reg.api.get_model("no/such")


def test_compare_and_card(reg: Registry, name: str) -> None:
    reg.register(name)
    reg.register(name, description="retrained")
    comparison = reg.api.compare(name, 1, 2)
    assert (comparison.left.version, comparison.right.version) == (1, 2)
    assert "accuracy" in comparison.metrics and comparison.same_training_data
    assert comparison.features_added == comparison.features_removed == ()
    markdown, html = reg.api.card(name, 2)
    assert markdown.startswith(f"# Model card: {name} version 2") and "retrained" in markdown
    assert "<html" in html.lower() and name in html


def test_load_verifies_and_predicts(reg: Registry, name: str) -> None:
    reg.register(name)
    reg.api.set_alias(name, "champion", 1, actor=USER)
    loaded = reg.api.load(f"{name}@champion")
    frame = churn_data()[1][FEATURES].head(20)
    assert list(loaded.predict(frame)) == list(reg.model.predict(frame))


def test_over_http_the_token_names_the_actor(remote_registry: Registry, name: str) -> None:
    """Remote mode ignores ``actor``: the server records the token's user."""
    run_id = log_trained_run(remote_registry.app, remote_registry.tmp, remote_registry.model)
    v = remote_registry.api.create_version(name, run_id, actor="mallory")
    assert v.created_by == USER
    with pytest.raises(PermissionDenied, match=r"models\.write"):
        remote_registry.other.transition(name, 1, "staging", actor=USER)  # a reviewer may not write
