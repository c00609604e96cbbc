"""The registry, the feature store and tracking publish their events on their real operations,
in the transaction of the change (a refused change publishes nothing)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from shipyard.app import App
from shipyard.errors import Conflict
from shipyard.registry.entities import GatePolicy
from shipyard.tracking.model import RunStatus
from support.features import T0, driver_definitions, write_driver_stats
from support.registry_models import register


def events_of(app: App, *types: str) -> list[tuple[str, dict[str, object]]]:
    return [(e.type, e.payload) for e in app.events.list(types=types or ["model.*"], limit=1000)]


def test_registry_publishes_versions_transitions_promotions_and_rollbacks(app: App, tmp_path: Path) -> None:
    register(app, tmp_path)
    register(app, tmp_path)
    before = app.events.latest_seq()
    for version in (1, 2):
        app.registry.transition("churn", version, "staging", actor="alice")
        app.registry.transition("churn", version, "production", actor="dave")
    app.registry.rollback("churn", actor="dave")
    published = [(e.type, e.payload, e.actor) for e in app.events.list(after=before, types=["model.*"])]
    assert published == [
        ("model.stage_changed", {"model": "churn", "version": 1, "from_stage": "registered", "to_stage": "staging"}, "alice"),
        ("model.stage_changed", {"model": "churn", "version": 1, "from_stage": "staging", "to_stage": "production"}, "dave"),
        ("model.promoted", {"model": "churn", "version": 1, "stage": "production", "previous": None}, "dave"),
        ("model.stage_changed", {"model": "churn", "version": 2, "from_stage": "registered", "to_stage": "staging"}, "alice"),
        ("model.stage_changed", {"model": "churn", "version": 1, "from_stage": "production", "to_stage": "archived"}, "dave"),
        ("model.stage_changed", {"model": "churn", "version": 2, "from_stage": "staging", "to_stage": "production"}, "dave"),
        ("model.promoted", {"model": "churn", "version": 2, "stage": "production", "previous": 1}, "dave"),
        ("model.rolled_back", {"model": "churn", "from_version": 2, "to_version": 1}, "dave"),
    ]  # fmt: skip
    registered = app.events.list(types=["model.version_registered"])
    assert [(e.payload["model"], e.payload["version"]) for e in registered] == [("churn", 1), ("churn", 2)]
    assert isinstance(registered[0].payload["run_id"], str)


def test_a_refused_transition_publishes_nothing(app: App, tmp_path: Path) -> None:
    register(app, tmp_path)
    before = app.events.latest_seq()
    with pytest.raises(Conflict):
        app.registry.transition("churn", 1, "production", actor="alice")
    assert app.events.latest_seq() == before


def test_aliases_and_approvals_are_published(app: App, tmp_path: Path) -> None:
    register(app, tmp_path)
    register(app, tmp_path)
    app.registry.set_alias("churn", "champion", 1, actor="dave")
    app.registry.set_alias("churn", "champion", 2, actor="dave")
    app.registry.delete_alias("churn", "champion", actor="dave")
    app.registry.set_policy("churn", GatePolicy(require_approval=True), actor="rita")
    first = app.registry.request_approval("churn", 1, "staging", actor="alice")
    app.registry.decide_approval(first.id, True, actor="rita")
    second = app.registry.request_approval("churn", 2, "staging", actor="alice")
    app.registry.decide_approval(second.id, False, actor="rita")
    published = [(t, p) for t, p in events_of(app) if t.startswith(("model.alias", "model.approval"))]
    assert published == [
        ("model.alias_set", {"model": "churn", "alias": "champion", "version": 1, "previous": None}),
        ("model.alias_set", {"model": "churn", "alias": "champion", "version": 2, "previous": 1}),
        ("model.alias_removed", {"model": "churn", "alias": "champion", "version": 2}),
        ("model.approval_requested", {"model": "churn", "version": 1, "target_stage": "staging", "request_id": first.id}),
        ("model.approval_granted", {"model": "churn", "version": 1, "target_stage": "staging", "request_id": first.id}),
        ("model.approval_requested", {"model": "churn", "version": 2, "target_stage": "staging", "request_id": second.id}),
        ("model.approval_rejected", {"model": "churn", "version": 2, "target_stage": "staging", "request_id": second.id}),
    ]  # fmt: skip
    granted = app.events.list(types=["model.approval_granted"], where={"model": "churn", "version": 1})
    assert [e.actor for e in granted] == ["rita"]


def test_runs_publish_run_finished_with_their_status(app: App) -> None:
    app.tracking.get_or_create_experiment("exp")
    done = app.tracking.create_run("exp", user="alice")
    failed = app.tracking.create_run("exp", user="bob")
    app.tracking.end_run(done.id)
    app.tracking.end_run(failed.id, RunStatus.FAILED)
    app.tracking.end_run(failed.id, RunStatus.FAILED)  # ending again as the same status: no new event
    published = [(e.payload, e.actor) for e in app.events.list(types=["run.finished"])]
    assert published == [
        ({"run_id": done.id, "experiment_id": done.experiment_id, "status": "FINISHED"}, "alice"),
        ({"run_id": failed.id, "experiment_id": failed.experiment_id, "status": "FAILED"}, "bob"),
    ]


def test_feature_applies_and_materializations_are_published(app: App, tmp_path: Path) -> None:
    store = app.features
    defs = driver_definitions(write_driver_stats(tmp_path / "data"))
    store.apply(defs, actor="alice")
    applied = app.events.list(types=["feature.applied"], limit=1000)
    assert applied and all(e.payload["version"] == 1 and e.payload["previous"] is None for e in applied)
    assert {(e.payload["kind"], e.payload["name"]) for e in applied} >= {("feature_view", "driver_stats")}
    assert all(e.actor == "alice" for e in applied)
    store.apply(defs, actor="alice")  # unchanged: nothing applied, nothing published
    assert len(app.events.list(types=["feature.applied"], limit=1000)) == len(applied)
    results = store.materialize(T0, T0 + timedelta(days=1))
    materialized = app.events.list(types=["feature.materialized"])
    assert [(e.payload["view"], e.payload["run_id"], e.payload["keys_written"]) for e in materialized] == [
        (r.view_name, r.id, r.keys_written) for r in results
    ]
