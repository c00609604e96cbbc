"""What every TrackingAPI must do, whether in process (SQLite, PostgreSQL) or over HTTP."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from shipyard.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from shipyard.tracking.api import TrackingAPI
from shipyard.tracking.model import Column, DatasetInfo, Direction, NodeKind, RunEnvironment, RunStatus

USER = "alice"
ENV = RunEnvironment(
    python_version="3.11.7",
    platform="Linux-x86_64",
    packages={"numpy": "2.0.0", "scikit-learn": "1.5.0"},
    command="python train.py --fast",
    git_commit="a" * 40,
    git_dirty=True,
)


def ms() -> int:
    return time.time_ns() // 1_000_000


def new_run(api: TrackingAPI, experiment: str = "churn", **kwargs: object) -> str:
    api.get_or_create_experiment(experiment)
    return api.create_run(experiment, user=USER, **kwargs).id  # type: ignore[arg-type]


def info(name: str, digest_char: str = "a", location: str = "") -> DatasetInfo:
    return DatasetInfo(
        name=name,
        digest="sha256:" + digest_char * 64,
        schema=(Column("x", "int64"), Column("y", "float64")),
        num_rows=10,
        location=location,
        source_type="parquet",
    )


# -- experiments --------------------------------------------------------------------------------


def test_experiment_is_found_by_name_and_by_id(tracking: TrackingAPI) -> None:
    exp = tracking.create_experiment("churn", description="who leaves", tags={"team": "growth"})
    assert tracking.get_experiment("churn") == exp
    assert tracking.get_experiment(exp.id) == exp
    assert exp.description == "who leaves" and exp.tags == {"team": "growth"}


def test_experiment_names_are_unique(tracking: TrackingAPI) -> None:
    tracking.create_experiment("churn")
    with pytest.raises(AlreadyExists, match="churn"):
        tracking.create_experiment("churn")
    assert tracking.get_or_create_experiment("churn").name == "churn"
    assert [e.name for e in tracking.list_experiments()] == ["churn"]


def test_unknown_experiment_is_named_in_the_error(tracking: TrackingAPI) -> None:
    with pytest.raises(NotFound, match="'nope'"):
        tracking.get_experiment("nope")
    with pytest.raises(NotFound, match="'nope'"):
        tracking.create_run("nope", user=USER)
    with pytest.raises(NotFound, match="f" * 32):  # shaped like an id, but no experiment has it
        tracking.create_run("f" * 32, user=USER)
    experiment = tracking.create_experiment("churn")
    assert tracking.create_run(experiment.id, user=USER).experiment_id == experiment.id
    assert tracking.create_run("churn", user=USER).experiment_id == experiment.id
    with pytest.raises(NotFound, match="'nope'"):
        tracking.search_runs(["nope"])


def test_blank_experiment_name_is_refused(tracking: TrackingAPI) -> None:
    with pytest.raises(InvalidInput, match="name"):
        tracking.create_experiment("  ")


# -- runs ---------------------------------------------------------------------------------------


def test_new_run_records_who_when_and_environment(tracking: TrackingAPI) -> None:
    tracking.create_experiment("churn")
    before = ms()
    run = tracking.create_run("churn", name="baseline", user=USER, tags={"stage": "dev"}, environment=ENV)
    assert run.name == "baseline" and run.user == USER
    assert run.status is RunStatus.RUNNING and run.end_time is None and run.duration is None
    assert before - 1000 <= run.start_time.timestamp() * 1000 <= ms() + 1000
    assert run.tags == {"stage": "dev"}
    assert tracking.get_run(run.id).environment == ENV


def test_run_gets_a_name_when_none_is_given(tracking: TrackingAPI) -> None:
    run = tracking.get_run(new_run(tracking))
    assert run.name.startswith("run-")


def test_nested_runs_point_at_their_parent(tracking: TrackingAPI) -> None:
    parent = new_run(tracking)
    child = tracking.create_run("churn", user=USER, parent_id=parent)
    assert child.parent_id == parent
    with pytest.raises(NotFound, match="missing0"):
        tracking.create_run("churn", user=USER, parent_id="missing0")


def test_ending_a_run_sets_status_end_time_and_duration(tracking: TrackingAPI) -> None:
    run_id = new_run(tracking)
    ended = tracking.end_run(run_id, RunStatus.FAILED)
    assert ended.status is RunStatus.FAILED
    assert ended.end_time is not None and ended.duration is not None and ended.duration >= 0
    assert tracking.end_run(run_id, RunStatus.FAILED).status is RunStatus.FAILED  # idempotent
    with pytest.raises(Conflict, match="already ended"):
        tracking.end_run(run_id, RunStatus.FINISHED)
    with pytest.raises(InvalidInput):
        tracking.end_run(new_run(tracking), RunStatus.RUNNING)


def test_a_run_is_created_with_its_params_and_ended_with_its_last_points(tracking: TrackingAPI) -> None:
    tracking.get_or_create_experiment("churn")
    run = tracking.create_run("churn", user=USER, tags={"team": "growth"}, params={"lr": 0.1, "depth": 4})
    assert run.params == {"lr": "0.1", "depth": "4"} and run.tags == {"team": "growth"}
    assert tracking.get_run(run.id).params == {"lr": "0.1", "depth": "4"}
    last = [("loss", 1.0 / (i + 1), i, ms()) for i in range(5)]
    ended = tracking.end_run(run.id, RunStatus.FINISHED, points=last, batch_id="last-1")
    assert ended.status is RunStatus.FINISHED and ended.metrics["loss"].step == 4
    # The end retried (its answer was lost): the same points are not stored twice.
    assert (
        tracking.end_run(run.id, RunStatus.FINISHED, points=last, batch_id="last-1").status
        is RunStatus.FINISHED
    )
    assert [m.step for m in tracking.metric_history(run.id, "loss")] == [0, 1, 2, 3, 4]


def test_a_refused_param_or_point_leaves_no_run_and_no_end(tracking: TrackingAPI) -> None:
    tracking.get_or_create_experiment("churn")
    before = tracking.count_runs(["churn"])
    with pytest.raises(InvalidInput, match="'seed'"):
        tracking.create_run("churn", user=USER, params={"lr": 0.1, "seed": None})
    assert tracking.count_runs(["churn"]) == before  # no run without its params
    run_id = new_run(tracking)
    with pytest.raises(InvalidInput):
        tracking.end_run(run_id, points=[("loss", "high", 0, ms())])  # type: ignore[list-item]
    run = tracking.get_run(run_id)
    assert run.status is RunStatus.RUNNING and run.metrics == {}  # neither the end nor the points


def test_unknown_run_is_not_found(tracking: TrackingAPI) -> None:
    for call in (
        lambda: tracking.get_run("0" * 32),
        lambda: tracking.log_params("0" * 32, {"a": 1}),
        lambda: tracking.log_metrics("0" * 32, [("a", 1.0, 0, ms())]),
        lambda: tracking.end_run("0" * 32),
    ):
        with pytest.raises(NotFound, match="0" * 32):
            call()


def test_rename_and_note(tracking: TrackingAPI) -> None:
    run_id = new_run(tracking)
    run = tracking.update_run(run_id, name="renamed", note="tried a smaller learning rate")
    assert (run.name, run.note) == ("renamed", "tried a smaller learning rate")


# -- params and tags ----------------------------------------------------------------------------


def test_params_are_stored_as_text_and_are_immutable(tracking: TrackingAPI) -> None:
    run_id = new_run(tracking)
    tracking.log_params(run_id, {"lr": 0.1, "model": "gbm", "depth": 4})
    tracking.log_params(run_id, {"lr": 0.1})  # same value again: fine
    assert tracking.get_run(run_id).params == {"lr": "0.1", "model": "gbm", "depth": "4"}
    with pytest.raises(Conflict, match="'lr'"):
        tracking.log_params(run_id, {"lr": 0.2})
    with pytest.raises(InvalidInput, match="'seed'"):
        tracking.log_params(run_id, {"seed": None})
    with pytest.raises(Conflict, match="'model'"):
        tracking.log_params(run_id, {"epochs": 10, "model": "rf"})  # refused whole: no epochs either
    assert "epochs" not in tracking.get_run(run_id).params


def test_tags_can_change_and_be_deleted(tracking: TrackingAPI) -> None:
    run_id = new_run(tracking)
    tracking.set_tags(run_id, {"stage": "dev", "owner": "alice"})
    tracking.set_tags(run_id, {"stage": "prod"})
    tracking.delete_tag(run_id, "owner")
    assert tracking.get_run(run_id).tags == {"stage": "prod"}
    with pytest.raises(NotFound, match="owner"):
        tracking.delete_tag(run_id, "owner")


# -- metrics ------------------------------------------------------------------------------------


def test_metric_history_and_latest_value(tracking: TrackingAPI) -> None:
    run_id = new_run(tracking)
    t = ms()
    points = [("loss", 1.0 / (s + 1), s, t + s) for s in range(5)]
    assert tracking.log_metrics(run_id, points[::-1]) == 5  # order of arrival does not matter
    history = tracking.metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, 1.0 / (s + 1)) for s in range(5)]
    latest = tracking.get_run(run_id).metrics["loss"]
    assert (latest.step, latest.value) == (4, 0.2)
    tracking.log_metrics(run_id, [("loss", 9.0, 2, t + 100)])  # an older step never becomes latest
    assert tracking.get_run(run_id).metrics["loss"].value == 0.2


def test_same_step_is_resolved_by_timestamp(tracking: TrackingAPI) -> None:
    run_id = new_run(tracking)
    t = ms()
    tracking.log_metrics(run_id, [("acc", 0.5, 0, t), ("acc", 0.7, 0, t + 5)])
    tracking.log_metrics(run_id, [("acc", 0.6, 0, t + 2)])
    assert tracking.get_run(run_id).metrics["acc"].value == 0.7


def test_nan_and_infinity_survive(tracking: TrackingAPI) -> None:
    run_id = new_run(tracking)
    t = ms()
    tracking.log_metrics(run_id, [("a", math.nan, 0, t), ("b", math.inf, 0, t), ("c", -math.inf, 0, t)])
    metrics = tracking.get_run(run_id).metrics
    assert math.isnan(metrics["a"].value)
    assert metrics["b"].value == math.inf and metrics["c"].value == -math.inf
    assert math.isnan(tracking.metric_history(run_id, "a")[0].value)


@pytest.mark.parametrize("bad", ["high", None, True, [1.0]])
def test_non_numeric_metric_is_refused_and_nothing_is_stored(tracking: TrackingAPI, bad: object) -> None:
    run_id = new_run(tracking)
    with pytest.raises(InvalidInput, match="'auc'"):
        tracking.log_metrics(run_id, [("ok", 1.0, 0, ms()), ("auc", bad, 0, ms())])  # type: ignore[list-item]
    assert tracking.get_run(run_id).metrics == {}


def test_retried_batch_is_stored_once(tracking: TrackingAPI) -> None:
    run_id = new_run(tracking)
    batch = [("loss", float(i), i, ms()) for i in range(100)]
    assert tracking.log_metrics(run_id, batch, batch_id="b-1") == 100
    assert tracking.log_metrics(run_id, batch, batch_id="b-1") == 0
    assert len(tracking.metric_history(run_id, "loss")) == 100


def test_integer_metric_values_are_accepted(tracking: TrackingAPI) -> None:
    run_id = new_run(tracking)
    tracking.log_metrics(run_id, [("count", 3, 1, ms())])  # type: ignore[list-item]
    assert tracking.get_run(run_id).metrics["count"].value == 3.0


# -- datasets and artifacts ---------------------------------------------------------------------


def test_datasets_link_to_runs_once(tracking: TrackingAPI) -> None:
    run_id = new_run(tracking)
    first = tracking.log_dataset(run_id, info("train", location="/data/train.parquet"))
    tracking.log_dataset(run_id, info("train", location="/data/train.parquet"))
    tracking.log_dataset(run_id, info("scores", "b"), context="predictions", direction=Direction.OUTPUT)
    links = sorted(tracking.run_datasets(run_id), key=lambda d: d.dataset.name)
    assert [(d.dataset.name, d.direction, d.context) for d in links] == [
        ("scores", Direction.OUTPUT, "predictions"),
        ("train", Direction.INPUT, "training"),
    ]
    assert links[1].dataset == first.dataset
    assert first.dataset.schema == (Column("x", "int64"), Column("y", "float64"))
    assert first.dataset.num_rows == 10


def test_dataset_digest_must_be_sha256(tracking: TrackingAPI) -> None:
    run_id = new_run(tracking)
    bad = DatasetInfo("train", "md5:abc", (), 1, "", "csv")
    with pytest.raises(InvalidInput, match="md5:abc"):
        tracking.log_dataset(run_id, bad)


def test_artifacts_round_trip_by_path_and_digest(tracking: TrackingAPI, tmp_path: Path) -> None:
    run_id = new_run(tracking)
    source = tmp_path / "model.bin"
    source.write_bytes(b"weights" * 1000)
    art = tracking.log_artifact(run_id, source, "models/model.bin")
    assert art.size == 7000 and art.digest.startswith("sha256:")
    assert [a.path for a in tracking.list_artifacts(run_id)] == ["models/model.bin"]
    out = tracking.download_artifact(run_id, "models/model.bin", tmp_path / "out" / "m.bin")
    assert out.read_bytes() == source.read_bytes()
    again = tracking.download_blob(art.digest, tmp_path / "blob.bin")
    assert again.read_bytes() == source.read_bytes()


@pytest.mark.parametrize("path", ["../escape.txt", "/etc/passwd", "a/../../b", "a\\b"])
def test_artifact_paths_cannot_escape(tracking: TrackingAPI, tmp_path: Path, path: str) -> None:
    run_id = new_run(tracking)
    source = tmp_path / "f.txt"
    source.write_text("x")
    with pytest.raises(InvalidInput):
        tracking.log_artifact(run_id, source, path)
    assert tracking.list_artifacts(run_id) == []


def test_missing_artifacts_are_not_found(tracking: TrackingAPI, tmp_path: Path) -> None:
    run_id = new_run(tracking)
    with pytest.raises(NotFound, match=r"nothing\.txt"):
        tracking.download_artifact(run_id, "nothing.txt", tmp_path / "x")
    with pytest.raises(NotFound):
        tracking.download_blob("sha256:" + "f" * 64, tmp_path / "y")
    assert not (tmp_path / "x").exists()


# -- search and compare -------------------------------------------------------------------------


def _runs_with(tracking: TrackingAPI) -> dict[str, str]:
    ids = {}
    for name, model, auc in [("a", "gbm", 0.91), ("b", "gbm", 0.75), ("c", "lr", 0.85), ("d", "rf", 0.88)]:
        run_id = new_run(tracking, name=name)
        tracking.log_params(run_id, {"model": model, "depth": len(name) + ord(name) % 5})
        tracking.log_metrics(run_id, [("auc", auc, 0, ms())])
        ids[name] = run_id
    new_run(tracking, "other", name="elsewhere")
    return ids


def test_search_filters_and_orders(tracking: TrackingAPI) -> None:
    _runs_with(tracking)
    found = tracking.search_runs(["churn"], "metrics.auc > 0.8 and params.model = 'gbm'")
    assert [r.name for r in found] == ["a"]
    ordered = tracking.search_runs(["churn"], "metrics.auc > 0.8", order_by=["metrics.auc DESC"])
    assert [r.name for r in ordered] == ["a", "d", "c"]
    assert [r.name for r in tracking.search_runs(["churn"], "", ["metrics.auc"], max_results=2)] == ["b", "c"]
    assert {r.name for r in tracking.search_runs()} == {"a", "b", "c", "d", "elsewhere"}
    assert found[0].metrics["auc"].value == 0.91 and found[0].params["model"] == "gbm"


def test_pages_and_counts(tracking: TrackingAPI) -> None:
    _runs_with(tracking)
    order = ["metrics.auc DESC"]
    everything = [r.name for r in tracking.search_runs(["churn"], "", order)]
    pages = [
        [r.name for r in tracking.search_runs(["churn"], "", order, max_results=2, offset=offset)]
        for offset in (0, 2, 4)
    ]
    assert pages == [everything[0:2], everything[2:4], []]
    assert tracking.count_runs(["churn"]) == 4
    assert tracking.count_runs(["churn"], "metrics.auc > 0.8") == 3
    assert tracking.count_runs() == 5
    with pytest.raises(InvalidInput, match="offset"):
        tracking.search_runs(["churn"], offset=-1)
    with pytest.raises(NotFound):
        tracking.count_runs(["nope"])


def test_malformed_filter_says_what_is_wrong(tracking: TrackingAPI) -> None:
    new_run(tracking)
    with pytest.raises(InvalidInput, match="filter") as info:
        tracking.search_runs(["churn"], "metrics.auc >")
    assert info.value.field == "filter"
    with pytest.raises(InvalidInput, match="order"):
        tracking.search_runs(["churn"], "", ["metrics.auc sideways"])


def test_compare_lines_runs_up(tracking: TrackingAPI) -> None:
    ids = _runs_with(tracking)
    cmp = tracking.compare_runs([ids["a"], ids["c"]])
    assert [r.name for r in cmp.runs] == ["a", "c"]
    assert cmp.param_keys == ("depth", "model") and cmp.metric_keys == ("auc",)
    assert cmp.param("model") == ["gbm", "lr"] and cmp.metric("auc") == [0.91, 0.85]
    assert "model" in cmp.differing_params()
    with pytest.raises(NotFound):
        tracking.compare_runs([ids["a"], "f" * 32])


# -- lineage ------------------------------------------------------------------------------------


def test_lineage_answers_what_produced_and_what_used(tracking: TrackingAPI, tmp_path: Path) -> None:
    prep = new_run(tracking, name="prepare")
    features = tmp_path / "features.parquet"
    features.write_bytes(b"PAR1 pretend parquet bytes")
    produced = tracking.log_artifact(prep, features, "features.parquet")
    train = new_run(tracking, name="train")
    tracking.log_dataset(
        train,
        DatasetInfo("features", produced.digest, (Column("x", "int64"),), 3, str(features), "parquet"),
    )
    model_file = tmp_path / "model.bin"
    model_file.write_bytes(b"model")
    model = tracking.log_artifact(train, model_file, "model.bin")

    graph = tracking.lineage(produced.digest)
    assert [n.label for n in graph.producers(produced.digest)] == ["prepare"]
    assert [n.label for n in graph.consumers(produced.digest)] == ["train"]

    deep = tracking.lineage(f"{train}/model.bin", depth=2)
    assert deep.subject.id == model.digest
    runs = {n.label for n in deep.nodes if n.kind is NodeKind.RUN}
    assert runs == {"train", "prepare"}  # the model's producer, and the producer of its input

    around_run = tracking.lineage(train)
    assert {n.id for n in around_run.nodes} == {train, produced.digest, model.digest}


def test_lineage_of_unknown_things(tracking: TrackingAPI) -> None:
    with pytest.raises(NotFound):
        tracking.lineage("sha256:" + "0" * 64)
    with pytest.raises(NotFound):
        tracking.lineage("f" * 32)
    run_id = new_run(tracking)
    with pytest.raises(InvalidInput, match="depth"):
        tracking.lineage(run_id, depth=0)
    with pytest.raises(InvalidInput):
        tracking.lineage("what is this")
