"""The registry's core on SQLite: versions and what they link to, the lifecycle, aliases, tags,
rollback, concurrency of promotions, and the audit records every mutation leaves."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from shipyard.app import App
from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.registry.entities import Stage
from shipyard.registry.lifecycle import LEGAL
from shipyard.registry.refs import parse_ref
from support.registry_models import FEATURES, log_trained_run, register


def stages(app: App, name: str = "churn") -> dict[int, Stage]:
    return {v.version: v.stage for v in app.registry.list_versions(name)}


def test_a_version_links_its_run_data_code_metrics_and_package(app: App, tmp_path: Path) -> None:
    run_id = log_trained_run(
        app, tmp_path, tags={"shipyard.feature_service": "churn_features"}, git_commit="abc123"
    )
    version = app.registry.create_version("churn", run_id, artifact_path="model", actor="alice")
    run = app.tracking.get_run(run_id)
    training = app.tracking.run_datasets(run_id)[0].dataset

    assert (version.model, version.version, version.stage) == ("churn", 1, Stage.REGISTERED)
    assert version.run_id == run_id and version.created_by == "alice"
    assert version.artifact_digest == app.tracking.artifact(run_id, "model").digest
    assert version.training_data is not None and version.training_data.digest == training.digest
    assert version.feature_service == "churn_features"
    assert version.code_version == "abc123"
    assert version.metrics == {"accuracy": run.metrics["accuracy"].value}
    assert version.params["features"] == ",".join(FEATURES)
    assert version.flavor == "sklearn"
    assert [c["name"] for c in version.signature["inputs"]] == FEATURES  # type: ignore[index]
    assert len(version.input_example) == 5 and set(version.input_example[0]) == set(FEATURES)
    # The model was created by its first version; the next version counts up.
    assert app.registry.get_model("churn").latest_version == 1
    assert register(app, tmp_path).version == 2


def test_models_are_created_once_and_named_sensibly(app: App) -> None:
    model = app.registry.create_model(
        "fraud", "Flags card fraud.", allow_multiple_production=True, actor="bob"
    )
    assert model.description == "Flags card fraud." and model.allow_multiple_production
    with pytest.raises(Conflict, match="'fraud' already exists"):
        app.registry.create_model("fraud", actor="bob")
    with pytest.raises(InvalidInput, match="model name") as bad:
        app.registry.create_model("no spaces/please", actor="bob")
    assert bad.value.field == "name"
    with pytest.raises(NotFound, match="model 'nope' does not exist"):
        app.registry.get_model("nope")
    assert [m.name for m in app.registry.list_models()] == ["fraud"]


def test_registering_needs_a_run_with_a_model_package(app: App, tmp_path: Path) -> None:
    run_id = log_trained_run(app, tmp_path)
    with pytest.raises(NotFound) as missing_run:
        app.registry.create_version("churn", "0" * 32, actor="alice")
    assert missing_run.value.field == "run_id"
    with pytest.raises(NotFound, match="no artifact 'weights'") as missing_artifact:
        app.registry.create_version("churn", run_id, artifact_path="weights", actor="alice")
    assert missing_artifact.value.field == "artifact_path"
    note = tmp_path / "note.txt"
    note.write_text("not a model")
    app.tracking.log_artifact(run_id, note, "note.txt")
    with pytest.raises(InvalidInput, match="not a Shipyard model package"):
        app.registry.create_version("churn", run_id, artifact_path="note.txt", actor="alice")
    with pytest.raises(NotFound):
        app.registry.get_model("churn")  # nothing was half-created


def test_lifecycle_follows_the_legal_transitions(app: App, tmp_path: Path) -> None:
    register(app, tmp_path)
    with pytest.raises(Conflict) as illegal:
        app.registry.transition("churn", 1, "production", actor="alice")
    message = str(illegal.value)
    assert "churn/1 cannot move from registered to production" in message
    assert "legal from registered: archived, retired, staging" in message
    for stage in ("staging", "production", "archived", "retired"):
        assert app.registry.transition("churn", 1, stage, actor="alice").stage == stage
    with pytest.raises(Conflict, match="retired is final"):
        app.registry.transition("churn", 1, "staging", actor="alice")
    with pytest.raises(InvalidInput, match="unknown stage 'live'"):
        app.registry.transition("churn", 1, "live", actor="alice")
    with pytest.raises(NotFound, match="has no version 9"):
        app.registry.transition("churn", 9, "staging", actor="alice")
    history = app.registry.history("churn", 1)
    assert [(t.from_stage, t.to_stage) for t in history] == [
        (None, Stage.REGISTERED),
        (Stage.REGISTERED, Stage.STAGING),
        (Stage.STAGING, Stage.PRODUCTION),
        (Stage.PRODUCTION, Stage.ARCHIVED),
        (Stage.ARCHIVED, Stage.RETIRED),
    ]
    assert LEGAL[Stage.RETIRED] == frozenset()


def promote(app: App, version: int, name: str = "churn") -> None:
    app.registry.transition(name, version, "staging", actor="alice")
    app.registry.transition(name, version, "production", actor="dave")


def test_promoting_archives_the_previous_production_version(app: App, tmp_path: Path) -> None:
    for _ in range(2):
        register(app, tmp_path)
    promote(app, 1)
    promote(app, 2)
    assert stages(app) == {1: Stage.ARCHIVED, 2: Stage.PRODUCTION}
    assert app.registry.get_model("churn").production_versions == (2,)
    archived = app.registry.history("churn", 1)[-1]
    assert archived.to_stage is Stage.ARCHIVED and archived.comment == "replaced by version 2"


def test_a_model_may_allow_several_production_versions(app: App, tmp_path: Path) -> None:
    app.registry.create_model("churn", allow_multiple_production=True, actor="alice")
    for _ in range(2):
        register(app, tmp_path)
    promote(app, 1)
    promote(app, 2)
    assert app.registry.get_model("churn").production_versions == (1, 2)


def test_aliases_point_at_one_version_each(app: App, tmp_path: Path) -> None:
    for _ in range(3):
        register(app, tmp_path)
    promote(app, 2)
    app.registry.set_alias("churn", "champion", 1, actor="dave")
    app.registry.set_alias("churn", "challenger", 3, actor="dave")
    assert app.registry.resolve("churn@champion").version == 1
    app.registry.set_alias("churn", "champion", 2, actor="dave")  # moves, never duplicates
    assert app.registry.resolve("churn@champion").version == 2
    assert app.registry.get_version("churn", 2).aliases == ("champion",)
    assert app.registry.get_model("churn").aliases == {"challenger": 3, "champion": 2}
    assert app.registry.resolve("churn@production").version == 2
    assert app.registry.resolve("churn/3").aliases == ("challenger",)
    with pytest.raises(NotFound, match="no alias 'gold'") as unknown:
        app.registry.resolve("churn@gold")
    assert unknown.value.field == "alias"
    with pytest.raises(NotFound, match="no version in staging"):
        app.registry.resolve("churn@staging")
    with pytest.raises(InvalidInput, match="reserved"):
        app.registry.set_alias("churn", "production", 1, actor="dave")
    app.registry.delete_alias("churn", "challenger", actor="dave")
    with pytest.raises(NotFound):
        app.registry.delete_alias("churn", "challenger", actor="dave")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("churn", "names no version"),
        ("churn/latest", "must be a version number"),
        ("churn/0", "positive integer"),
        ("churn@", "alias must be"),
        ("bad name/1", "model name"),
    ],
)
def test_references_parse_in_one_place(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_ref(text)


def test_refs_round_trip() -> None:
    assert (parse_ref("churn/3").name, parse_ref("churn/3").version) == ("churn", 3)
    assert parse_ref("team.churn-v2@champion").alias == "champion"


def test_tags_on_models_and_versions(app: App, tmp_path: Path) -> None:
    register(app, tmp_path)
    app.registry.set_tags("churn", {"team": "growth"}, actor="alice")
    app.registry.set_tags("churn", {"reviewed": "no"}, version=1, actor="alice")
    app.registry.set_tags("churn", {"reviewed": "yes"}, version=1, actor="alice")
    assert app.registry.get_model("churn").tags == {"team": "growth"}
    assert app.registry.get_version("churn", 1).tags == {"reviewed": "yes"}
    app.registry.delete_tag("churn", "reviewed", version=1, actor="alice")
    assert app.registry.get_version("churn", 1).tags == {}
    with pytest.raises(NotFound, match="churn/1 has no tag 'reviewed'"):
        app.registry.delete_tag("churn", "reviewed", version=1, actor="alice")
    with pytest.raises(InvalidInput, match="string value"):
        app.registry.set_tags("churn", {"n": 1}, actor="alice")  # type: ignore[dict-item]


def test_rollback_restores_the_previous_production_version_and_champion(app: App, tmp_path: Path) -> None:
    for _ in range(3):
        register(app, tmp_path)
    promote(app, 1)
    promote(app, 2)
    app.registry.set_alias("churn", "champion", 2, actor="dave")
    restored = app.registry.rollback("churn", actor="dave")
    assert restored.version == 1 and restored.stage is Stage.PRODUCTION
    assert restored.aliases == ("champion",)
    assert stages(app) == {1: Stage.PRODUCTION, 2: Stage.ARCHIVED, 3: Stage.REGISTERED}
    # Rolling back again goes to the production version before 1, and there is none still around
    # but 2 (promoted after it): the history decides, newest first.
    assert app.registry.rollback("churn", actor="dave").version == 2


def test_rollback_needs_a_production_version_and_an_earlier_one(app: App, tmp_path: Path) -> None:
    register(app, tmp_path)
    with pytest.raises(Conflict, match="no production version to roll back"):
        app.registry.rollback("churn", actor="dave")
    promote(app, 1)
    with pytest.raises(Conflict, match="no earlier production version"):
        app.registry.rollback("churn", actor="dave")
    assert stages(app) == {1: Stage.PRODUCTION}


def test_concurrent_promotions_leave_exactly_one_production_version(app: App, tmp_path: Path) -> None:
    versions = [register(app, tmp_path).version for _ in range(4)]
    for v in versions:
        app.registry.transition("churn", v, "staging", actor="alice")
    barrier = threading.Barrier(len(versions))
    errors: list[BaseException] = []

    def promote_one(version: int) -> None:
        barrier.wait()
        try:
            app.registry.transition("churn", version, "production", actor=f"worker{version}")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=promote_one, args=(v,)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    final = stages(app)
    assert sorted(final.values()).count(Stage.PRODUCTION) == 1
    assert sorted(s for s in final.values() if s is not Stage.PRODUCTION) == [Stage.ARCHIVED] * 3


def test_every_mutation_is_audited_with_before_and_after(app: App, tmp_path: Path) -> None:
    register(app, tmp_path)
    register(app, tmp_path)
    promote(app, 1)
    app.registry.set_alias("churn", "champion", 1, actor="dave")
    promote(app, 2)
    app.registry.rollback("churn", actor="erin")
    actions = [r.action for r in app.audit.list(model="churn", limit=1000)]
    assert actions[:3] == ["model.create", "version.create", "version.create"]
    assert {"version.transition", "alias.set", "model.rollback"} <= set(actions)
    rollback = app.audit.list(action="model.rollback")[0]
    assert (rollback.actor, rollback.object_id) == ("erin", "churn")
    assert rollback.before == {"production": 2} and rollback.after == {"production": 1}
    moved = app.audit.list(object_id="churn/1", action="version.transition")
    assert [(r.before, r.after and r.after["stage"]) for r in moved][:2] == [
        ({"stage": "registered"}, "staging"),
        ({"stage": "staging"}, "production"),
    ]
    assert app.audit.verify().valid


def test_a_move_decided_on_a_stale_stage_is_refused(app: App, tmp_path: Path) -> None:
    register(app, tmp_path)
    promote(app, 1)
    with pytest.raises(Conflict, match="moved to production meanwhile"):
        app.registry.transition("churn", 1, "archived", actor="carl", expected=Stage.STAGING)
    assert stages(app) == {1: Stage.PRODUCTION}
