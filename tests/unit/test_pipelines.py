"""Pipelines in process: definitions, recording in tracking, caching, retries, timeouts, resume."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shipyard.app import App
from shipyard.errors import Conflict, InvalidInput
from shipyard.pipelines.definition import pipeline, step
from shipyard.pipelines.model import RunState
from support import pipeline_defs as defs


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    defs.CALLS.clear()


def test_graph_from_calls_and_version_from_code() -> None:
    spec = defs.training.spec()
    assert [n.id for n in spec.nodes] == ["load", "features", "train", "evaluate"]
    assert spec.node("evaluate").upstream == ("train", "features")
    assert spec.node("load").inputs["rows"].kind == "param"
    assert {p.name: p.default for p in spec.params} == {"rows": 10, "scale": 2.0, "c": 1.0}
    assert spec.ref == "support.pipeline_defs:training"
    assert spec.version.startswith("sha256:") and spec.version == defs.training.spec().version


class Custom:
    pass


def test_bad_definitions_are_refused_before_anything_runs() -> None:
    with pytest.raises(InvalidInput, match=r"cannot be stored.*pickle=True"):

        @step
        def bad() -> Custom:
            return Custom()

    @step
    def wants_int(a: int) -> int:
        return a

    @step
    def gives_frame() -> pd.DataFrame:
        return pd.DataFrame()

    @pipeline
    def mistyped() -> None:
        wants_int(gives_frame())

    with pytest.raises(InvalidInput, match="argument 'a' expects int but step 'gives_frame' returns"):
        mistyped.spec()


def test_parameters_are_validated_with_defaults() -> None:
    assert defs.training.validate_params({"rows": "5"}) == {"rows": 5, "scale": 2.0, "c": 1.0}
    with pytest.raises(InvalidInput, match="no parameter 'epochs'") as err:
        defs.training.validate_params({"epochs": 3})
    assert err.value.field == "params.epochs"
    with pytest.raises(InvalidInput, match="parameter 'rows' must be int") as err:
        defs.training.validate_params({"rows": "many"})
    assert err.value.field == "params.rows"


def test_run_is_recorded_as_tracking_runs_with_lineage(app: App) -> None:
    svc = app.pipelines
    svc.apply(defs.training, actor="alice")
    run = svc.run("training", {"rows": 20}, started_by="alice")
    assert run.state is RunState.SUCCEEDED, run.error
    assert [s.state for s in run.steps] == [RunState.SUCCEEDED] * 4
    assert {s.output_kind for s in run.steps} == {"pandas", "model", "json"}

    parent = app.tracking.get_run(run.id)
    assert parent.experiment_id == app.tracking.get_experiment("pipelines/training").id
    assert parent.params["rows"] == "20" and parent.tags["shipyard.started_by"] == "alice"
    assert parent.tags["shipyard.pipeline.version"] == run.version
    children = app.tracking.search_runs(
        ["pipelines/training"], filter=f"tags.`shipyard.pipeline.run` = '{run.id}'"
    )
    assert sorted(c.name for c in children) == ["evaluate", "features", "load", "train"]
    assert all(c.parent_id == run.id and c.status.value == "FINISHED" for c in children)

    train = next(s for s in run.steps if s.node == "train")
    # The model step's output registers like any packaged model, and lineage walks back to the data.
    version = app.registry.create_version("churn", train.run_id or "", "output", actor="alice")
    assert version.run_id == train.run_id
    graph = app.tracking.lineage(f"{train.run_id}/output", depth=3)
    load_run = next(s for s in run.steps if s.node == "load").run_id
    assert load_run in {n.id for n in graph.nodes}
    assert svc.logs(run.id, ["load"])["load"][0] == "loading 20 rows\n"


def test_cached_rerun_executes_no_body_and_links_the_reused_run(app: App) -> None:
    svc = app.pipelines
    first = svc.run(defs.training, started_by="alice")
    calls = dict(defs.CALLS)
    second = svc.run(defs.training, started_by="alice")
    assert calls == defs.CALLS  # nothing ran again
    assert second.state is RunState.SUCCEEDED
    by_node = {s.node: s for s in first.steps}
    for s in second.steps:
        assert s.state is RunState.CACHED and s.cached_from == by_node[s.node].run_id
        assert s.output_digest == by_node[s.node].output_digest
    tags = app.tracking.get_run(second.steps[0].run_id or "").tags
    assert tags["shipyard.step.cached_from"] == by_node[second.steps[0].node].run_id

    third = svc.run(defs.training, {"c": 0.5}, started_by="alice")  # only train and evaluate change
    assert {s.node: s.state for s in third.steps} == {
        "load": RunState.CACHED,
        "features": RunState.CACHED,
        "train": RunState.SUCCEEDED,
        "evaluate": RunState.SUCCEEDED,
    }
    uncached = svc.run(defs.training, started_by="alice", cache=False)
    assert all(s.state is RunState.SUCCEEDED for s in uncached.steps)


def test_retries_with_backoff_record_the_attempt(app: App, tmp_path: Path) -> None:
    run = app.pipelines.run(defs.retrying, {"marker": str(tmp_path / "m")}, started_by="bob")
    assert run.state is RunState.SUCCEEDED
    step_run = run.steps[0]
    assert step_run.attempt == 3 and defs.CALLS["flaky"] == 3
    assert app.tracking.get_run(step_run.run_id or "").tags["shipyard.step.attempt"] == "3"
    stderr = app.pipelines.logs(run.id)["flaky"][1]
    assert "flaky attempt 1" in stderr and "flaky attempt 2" in stderr


def test_timeout_fails_the_step(app: App) -> None:
    run = app.pipelines.run(defs.timing_out, {"seconds": 3.0}, started_by="bob")
    assert run.state is RunState.FAILED
    assert run.steps[0].error == "timed out after 0.2 s"
    assert app.tracking.get_run(run.id).status.value == "FAILED"


def test_failed_run_resumes_from_the_failed_step(app: App, tmp_path: Path) -> None:
    svc = app.pipelines
    path = tmp_path / "ready"
    failed = svc.run(defs.resumable, {"path": str(path)}, started_by="bob", cache=False)
    states = {s.node: s.state for s in failed.steps}
    assert states == {
        "add": RunState.SUCCEEDED,
        "fail_unless": RunState.FAILED,
        "noop": RunState.SKIPPED,
        "noop_2": RunState.SUCCEEDED,
    }
    path.write_text("")
    defs.CALLS.clear()
    resumed = svc.run(defs.resumable, {"path": str(path)}, started_by="bob", cache=False, resume=failed.id)
    assert resumed.state is RunState.SUCCEEDED and resumed.resumed_from == failed.id
    states = {s.node: s.state for s in resumed.steps}
    assert states["add"] is RunState.CACHED and states["fail_unless"] is RunState.SUCCEEDED
    assert defs.CALLS == {"fail_unless": 1}


def test_outputs_that_cannot_be_stored_fail_clearly_unless_pickle(app: App) -> None:
    run = app.pipelines.run(defs.unstorable, started_by="bob")
    assert run.state is RunState.FAILED
    assert "cannot be stored" in (run.steps[0].error or "") and "pickle=True" in (run.steps[0].error or "")
    assert app.pipelines.run(defs.with_pickle, started_by="bob").steps[0].output_kind == "pickle"


def test_unknown_parameter_or_executor_fails_before_anything_is_recorded(app: App) -> None:
    app.pipelines.apply(defs.training, actor="alice")
    with pytest.raises(InvalidInput, match="no parameter 'epochs'"):
        app.pipelines.run("training", {"epochs": 1}, started_by="alice")
    with pytest.raises(InvalidInput, match="unknown executor 'nope'"):
        app.pipelines.run("training", started_by="alice", executor="nope")
    assert app.pipelines.list_runs("training") == []


def test_submit_runs_in_the_background_and_is_idempotent_per_firing(app: App) -> None:
    svc = app.pipelines
    assert not svc.exists("chain")
    svc.apply(defs.chain, actor="alice")
    assert svc.exists("chain")
    run_id = svc.submit("chain", {}, started_by="trigger:t1", trigger_id="t1", firing_key="t1@2026-01-01")
    assert (
        svc.submit("chain", {}, started_by="trigger:t1", trigger_id="t1", firing_key="t1@2026-01-01")
        == run_id
    )
    run = svc.wait(run_id, timeout=60)
    assert run.state is RunState.SUCCEEDED and run.trigger_id == "t1"
    assert svc.active_runs("t1") == 0
    assert [r.id for r in svc.list_runs("chain")] == [run_id]


def test_code_changed_since_apply_is_refused(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "changing_pipeline.py"
    source = (
        "from shipyard.pipelines.definition import pipeline, step\n"
        "@step\ndef one() -> int:\n    return 1\n"
        "@pipeline\ndef changing() -> None:\n    one()\n"
    )
    module.write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    mod = importlib.import_module("changing_pipeline")
    app.pipelines.apply(mod.changing, actor="alice")
    assert app.pipelines.run("changing", started_by="alice").state is RunState.SUCCEEDED
    module.write_text(source.replace("return 1", "return 2"))
    importlib.reload(mod)
    with pytest.raises(Conflict, match=r"changed since it was applied.*apply it again"):
        app.pipelines.run("changing", started_by="alice")


def test_apply_is_audited(app: App) -> None:
    app.pipelines.apply(defs.training, actor="alice")
    app.pipelines.apply(defs.training, actor="alice")  # same version: nothing new
    records = app.audit.list(action="pipeline.apply")
    assert len(records) == 1 and records[0].actor == "alice" and records[0].object_id == "training"


def test_search_records_each_trial_as_a_nested_run_and_outputs_the_best_model(app: App) -> None:
    run = app.pipelines.run(defs.tuning, {"n_trials": 6}, started_by="ann")
    assert run.state is RunState.SUCCEEDED, run.error
    tune = next(s for s in run.steps if s.node == "tune")
    assert tune.output_kind == "model"
    trials = app.tracking.search_runs(["pipelines/tuning"], filter="tags.`shipyard.step` = 'tune'")
    trials = [t for t in trials if t.parent_id == tune.run_id]
    assert len(trials) == 6
    states = {t.tags["shipyard.trial.state"] for t in trials}
    assert "COMPLETE" in states and "PRUNED" in states  # pruning works
    assert all(t.status.value == "KILLED" for t in trials if t.tags["shipyard.trial.state"] == "PRUNED")
    step_run = app.tracking.get_run(tune.run_id or "")
    assert "best.c" in step_run.params and step_run.metrics["best_value"].value > 0.4
    best = max((t for t in trials if "value" in t.metrics), key=lambda t: t.metrics["value"].value)
    assert step_run.metrics["best_value"].value == best.metrics["value"].value


CHANGING = """
from shipyard.pipelines import pipeline, step

RAN = []


@step
def a() -> int:
    RAN.append("a")
    return 1


@step
def b(x: int) -> int:
    RAN.append("b")
    return x + 1


@step
def c(x: int) -> int:
    RAN.append("c")
    return x * 10


@step
def d() -> str:
    RAN.append("d")
    return "side"


@pipeline
def diamond() -> None:
    c(b(a()))
    d()
"""


def test_changing_one_step_reruns_it_and_its_dependents_only(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    (tmp_path / "diamond_flow.py").write_text(CHANGING)
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("diamond_flow")
    app.pipelines.apply(mod.diamond, actor="ann")
    app.pipelines.run("diamond", started_by="ann")
    assert sorted(mod.RAN) == ["a", "b", "c", "d"]

    (tmp_path / "diamond_flow.py").write_text(CHANGING.replace("return x + 1", "return x + 2"))
    importlib.reload(mod)
    app.pipelines.apply(mod.diamond, actor="ann")
    run = app.pipelines.run("diamond", started_by="ann")
    assert sorted(mod.RAN) == ["b", "c"]  # a fresh module: only what changed and what depends on it ran
    assert {s.node: s.state for s in run.steps} == {
        "a": RunState.CACHED,
        "b": RunState.SUCCEEDED,
        "c": RunState.SUCCEEDED,
        "d": RunState.CACHED,
    }


def test_runs_left_active_by_a_dead_process_are_abandoned(app: App) -> None:
    from sqlalchemy import update

    from shipyard.pipelines.store import runs_t

    svc = app.pipelines
    svc.apply(defs.chain, actor="ann")
    run_id = svc.submit("chain", {}, started_by="trigger:t9", trigger_id="t9")
    svc.wait(run_id, timeout=60)
    with app.db.write() as conn:  # as if the process died mid-run: the row still says RUNNING
        conn.execute(update(runs_t).where(runs_t.c.id == run_id).values(state="RUNNING", finished_at=None))
    assert svc.active_runs("t9") == 1
    assert svc.abandon_stale(3600) == []  # recent activity: left alone
    assert svc.abandon_stale(0.001) == [run_id]
    run = svc.get_run(run_id)
    assert run.state is RunState.FAILED and "abandoned" in (run.error or "")
    assert svc.active_runs("t9") == 0


def test_runs_publish_started_and_finished_events_in_the_event_log(app: App, tmp_path: Path) -> None:
    svc = app.pipelines
    svc.apply(defs.resumable, actor="ann")
    before = app.events.latest_seq()
    run_id = svc.submit("resumable", {"path": str(tmp_path / "missing")}, started_by="sched", trigger_id="t3")
    run = svc.wait(run_id, timeout=60)
    published = [(e.type, e.payload, e.actor) for e in app.events.list(after=before, types=["pipeline.*"])]
    assert published == [
        (
            "pipeline.started",
            {"run_id": run_id, "pipeline": "resumable", "version": run.version, "trigger_id": "t3", "started_by": "sched"},
            "sched",
        ),
        (
            "pipeline.finished",
            {"run_id": run_id, "pipeline": "resumable", "version": run.version, "trigger_id": "t3", "status": "FAILED"},
            "sched",
        ),
    ]  # fmt: skip


def test_step_runs_end_like_any_run(app: App) -> None:
    before = app.events.latest_seq()
    run = app.pipelines.run(defs.training, started_by="ann")
    ended = {
        e.payload["run_id"]: e.payload["status"]
        for e in app.events.list(after=before, types=["run.finished"])
    }
    assert ended == {run.id: "FINISHED", **{s.run_id: "FINISHED" for s in run.steps}}
