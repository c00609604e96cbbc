"""``shipyard predict`` as a user runs it: a Parquet file scored chunk by chunk (locally and on a
real local Ray), recorded as a run with lineage; bad input gets one line on stderr."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.app import build_app
from shipyard.config import load_settings
from support.cli import fails, isolate, ok
from support.registry_models import FEATURES, churn_data, register


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate(monkeypatch, tmp_path, home=tmp_path / "home")
    app = build_app(load_settings(home=tmp_path / "home"))
    version = register(app, tmp_path)
    app.registry.set_alias("churn", "champion", version.version, actor="alice")
    app.close()
    return tmp_path / "home"


def _input(tmp_path: Path, rows: int) -> Path:
    frame = churn_data()[1][FEATURES]
    frame = frame.sample(rows, replace=True, random_state=0).reset_index(drop=True)
    frame.insert(0, "customer_id", np.arange(rows))
    path = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=700)
    return path


def _expected(home: Path, path: Path) -> list[int]:
    app = build_app(load_settings(home=home))
    try:
        return app.registry.load("churn@champion").predict(pq.read_table(path).to_pandas()).tolist()
    finally:
        app.close()


def test_predict_scores_a_file_in_chunks_and_records_lineage(home: Path, tmp_path: Path) -> None:
    source = _input(tmp_path, 5_000)
    out = ok(
        "predict",
        "churn@champion",
        "--input",
        str(source),
        "--output",
        str(tmp_path / "out.parquet"),
        "--chunk-rows",
        "999",
    )
    assert "scored 5000 rows with churn v1" in out
    scored = pq.read_table(tmp_path / "out.parquet")
    assert scored.column_names == ["customer_id", *FEATURES, "prediction"]
    assert scored.column("customer_id").to_pylist() == list(range(5_000))
    assert scored.column("prediction").to_pylist() == _expected(home, source)
    app = build_app(load_settings(home=home))
    try:
        (run,) = app.tracking.search_runs(["batch-scoring"])
        datasets = {d.direction.value: d.dataset for d in app.tracking.run_datasets(run.id)}
        assert run.tags["shipyard.model_version"] == "1" and run.status.value == "FINISHED"
        assert datasets["input"].digest in out or datasets["input"].location == str(source)
        assert datasets["output"].digest in out and datasets["output"].num_rows == 5_000
    finally:
        app.close()


def test_predict_on_ray_gives_the_same_file(home: Path, tmp_path: Path, ray_session: None) -> None:
    source = _input(tmp_path, 3_000)
    ok("predict", "churn@champion", "-i", str(source), "-o", str(tmp_path / "local.parquet"), "--no-record")
    ok(
        "predict",
        "churn@champion",
        "-i",
        str(source),
        "-o",
        str(tmp_path / "ray.parquet"),
        "--executor",
        "ray",
        "--chunk-rows",
        "500",
        "--no-record",
    )
    assert pq.read_table(tmp_path / "ray.parquet").equals(pq.read_table(tmp_path / "local.parquet"))


def test_predict_bad_input_is_one_line(home: Path, tmp_path: Path) -> None:
    source = _input(tmp_path, 10)
    assert "does not exist" in fails(
        "predict", "churn@champion", "-i", str(tmp_path / "nope.parquet"), "-o", "x.parquet"
    )
    (tmp_path / "bad.parquet").write_text("not parquet")
    assert "not a Parquet file" in fails(
        "predict", "churn@champion", "-i", str(tmp_path / "bad.parquet"), "-o", "x.parquet"
    )
    assert "alias" in fails("predict", "churn@nope", "-i", str(source), "-o", "x.parquet").lower()
    assert "NAME@ALIAS" in fails("predict", "churn", "-i", str(source), "-o", "x.parquet")
    assert "--executor" in fails(
        "predict", "churn@champion", "-i", str(source), "-o", "x.parquet", "--executor", "spark"
    )
    pq.write_table(pa.table({"tenure_months": [1, 2]}), tmp_path / "narrow.parquet")
    assert "'monthly_charges'" in fails(
        "predict", "churn@champion", "-i", str(tmp_path / "narrow.parquet"), "-o", "y.parquet"
    )
    assert not (tmp_path / "y.parquet").exists() and not list(tmp_path.glob(".y.parquet*"))


def test_predict_from_an_entity_frame_joins_features_as_of_each_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    import pandas as pd
    from sklearn.linear_model import LinearRegression

    from shipyard.features.model import FeatureService
    from shipyard.packaging.package import save_model
    from support.features import T0, driver_definitions, write_driver_stats

    isolate(monkeypatch, tmp_path, home=tmp_path / "home")
    app = build_app(load_settings(home=tmp_path / "home"))
    try:
        definitions = driver_definitions(write_driver_stats(tmp_path / "data"))
        app.features.apply(
            [*definitions, FeatureService("driver_basic", ["driver_stats:trips", "driver_stats:rating"])],
            actor="alice",
        )
        train = pd.DataFrame({"trips": [100.0, 212.0, 306.0, 118.0], "rating": [4.1, 4.2, 4.3, 4.28]})
        model = LinearRegression().fit(train, [1.0, 2.0, 3.0, 1.5])
        app.tracking.get_or_create_experiment("eta")
        run = app.tracking.create_run("eta", user="alice")
        save_model(model, tmp_path / "eta.zip", input_example=train.head(2))
        app.tracking.log_artifact(run.id, tmp_path / "eta.zip", "model")
        app.tracking.end_run(run.id)
        app.registry.create_version("eta", run.id, actor="alice")
    finally:
        app.close()
    entities = pd.DataFrame(
        {"driver_id": [1, 2, 3, 1], "event_timestamp": [T0 + timedelta(hours=h) for h in (1, 7, 13, 19)]}
    )
    entities.to_parquet(tmp_path / "entities.parquet")
    out = ok(
        "predict", "eta/1", "--entities", str(tmp_path / "entities.parquet"), "--feature-service", "driver_basic",
        "--output", str(tmp_path / "eta.parquet"),
    )  # fmt: skip
    assert "scored 4 rows with eta v1" in out
    scored = pq.read_table(tmp_path / "eta.parquet").to_pandas()
    # each row has its driver's statistics as of its own time (hour 1 -> the hour-0 row, …)
    assert scored["trips"].tolist() == [100, 206, 312, 118]
    assert scored["prediction"].tolist() == pytest.approx(model.predict(scored[["trips", "rating"]]).tolist())
    assert "no feature service" in fails(
        "predict",
        "eta/1",
        "--entities",
        str(tmp_path / "entities.parquet"),
        "--output",
        str(tmp_path / "x.parquet"),
    )
    assert "one of them" in fails(
        "predict", "eta/1", "--entities", str(tmp_path / "entities.parquet"), "--input", str(tmp_path / "eta.parquet"),
        "--output", str(tmp_path / "y.parquet"),
    )  # fmt: skip
