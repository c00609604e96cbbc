"""Model packages: one file that loads back to the same predictions, refuses what could run code,
and refuses bytes that do not match their digest."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from shipyard.client import Client
from shipyard.config import load_settings
from shipyard.errors import CorruptArtifact, InvalidInput, PermissionDenied
from shipyard.packaging.package import (
    MANIFEST_NAME,
    PackageManifest,
    build_package,
    load_model,
    load_verified,
    read_manifest,
    save_model,
)
from shipyard.storage.artifacts.content import ContentStore, blob_key
from shipyard.storage.artifacts.local import LocalArtifactStore


def _customers(rows: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, rows),
            "monthly": rng.normal(70.0, 20.0, rows),
            "plan": rng.choice(["basic", "plus", "pro"], rows),
        }
    )
    churn = ((frame["monthly"] > 75) & (frame["tenure"] < 30)).to_numpy().astype(int)
    return frame, churn


def _pipeline(frame: pd.DataFrame, target: np.ndarray) -> Pipeline:
    columns = ColumnTransformer(
        [
            ("num", StandardScaler(), ["tenure", "monthly"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        ]
    )
    return Pipeline([("columns", columns), ("model", LogisticRegression())]).fit(frame, target)


class Doubler:
    """A generic Python model: anything with predict(DataFrame)."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return frame["tenure"].to_numpy() * 2


class Clip(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """A custom transformer: not a scikit-learn type, so skops will not construct it untrusted."""

    def fit(self, frame: pd.DataFrame, target: object = None) -> Clip:
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.clip(lower=0)


@pytest.fixture(scope="module")
def trained() -> tuple[Pipeline, pd.DataFrame]:
    frame, churn = _customers(300)
    return _pipeline(frame, churn), frame


def test_a_pipeline_loads_back_without_trust_and_predicts_the_same(
    trained: tuple[Pipeline, pd.DataFrame], tmp_path: Path
) -> None:
    model, frame = trained
    path = tmp_path / "churn.zip"
    manifest = save_model(model, path, input_example=frame.head(20))

    assert path.is_file() and list(tmp_path.iterdir()) == [path]  # one file, no temporary left over
    assert (manifest.flavor, manifest.format) == ("sklearn", "skops")
    assert [c.name for c in manifest.signature.inputs] == ["tenure", "monthly", "plan"]
    assert len(manifest.input_example) == 5
    assert {"scikit-learn", "skops", "numpy", "pandas"} <= set(manifest.library_versions)

    data = path.read_bytes()
    assert read_manifest(data) == manifest
    loaded = load_model(data, trust_pickle=False)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    proba = loaded.predict_proba(frame)
    assert proba is not None
    np.testing.assert_allclose(proba, model.predict_proba(frame), rtol=0, atol=0)


def test_prediction_checks_the_frame_against_the_signature(trained: tuple[Pipeline, pd.DataFrame]) -> None:
    model, frame = trained
    data, _ = build_package(model, input_example=frame)
    loaded = load_model(data, trust_pickle=False)
    with pytest.raises(InvalidInput, match="missing column\\(s\\) 'plan'") as caught:
        loaded.predict(frame.drop(columns="plan"))
    assert caught.value.field == "inputs.plan"
    with pytest.raises(InvalidInput, match="'monthly' has type string"):
        loaded.predict_proba(frame.assign(monthly="a lot"))
    # A value the model cannot take is the caller's mistake too, reported as such.
    with pytest.raises(InvalidInput, match=r"could not score the input: .*NaN") as caught:
        loaded.predict(frame.assign(monthly=np.nan))
    assert caught.value.field == "inputs"
    # Columns in another order, with an extra one, are fine.
    shuffled = frame[["plan", "monthly", "tenure"]].assign(customer_id=1)
    np.testing.assert_array_equal(loaded.predict(shuffled), model.predict(frame))


def test_the_manifest_is_json_and_round_trips(trained: tuple[Pipeline, pd.DataFrame]) -> None:
    model, frame = trained
    data, manifest = build_package(model, input_example=frame.head(3), created_at_ms=1234)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["model/model.skops", MANIFEST_NAME]
        document = json.loads(archive.read(MANIFEST_NAME))
    assert document["created_at_ms"] == 1234
    assert PackageManifest.from_dict(document) == manifest
    assert PackageManifest.from_dict(manifest.to_dict()) == manifest


def test_the_same_model_saved_twice_has_the_same_digest(trained: tuple[Pipeline, pd.DataFrame]) -> None:
    model, frame = trained
    first, _ = build_package(model, input_example=frame, created_at_ms=7)
    second, _ = build_package(model, input_example=frame, created_at_ms=7)
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()
    # Renumbering the skops file keeps it loadable.
    np.testing.assert_array_equal(load_model(second, trust_pickle=False).predict(frame), model.predict(frame))


def test_missing_values_in_the_example_become_json_null() -> None:
    example, _ = _customers(3)
    example.loc[1, "monthly"] = np.nan
    data, manifest = build_package(Doubler(), input_example=example)
    document = json.loads(read_manifest_text(data), parse_constant=pytest.fail)
    assert document["input_example"][1]["monthly"] is None
    assert manifest.example_frame()["monthly"].isna().tolist() == [False, True, False]


def read_manifest_text(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(MANIFEST_NAME)


def test_pickled_models_need_trust(tmp_path: Path) -> None:
    frame, _ = _customers(10)
    data, manifest = build_package(Doubler(), input_example=frame)
    assert manifest.flavor == "pyfunc" and manifest.format == "cloudpickle"
    with pytest.raises(PermissionDenied, match="SHIPYARD_TRUST_PICKLE") as caught:
        load_model(data, trust_pickle=False)
    assert caught.value.field == "trust_pickle"
    loaded = load_model(data, trust_pickle=True)
    np.testing.assert_array_equal(loaded.predict(frame), frame["tenure"].to_numpy() * 2)
    assert loaded.predict_proba(frame) is None


def test_a_custom_type_inside_a_pipeline_needs_trust() -> None:
    frame, churn = _customers(100)
    numeric = frame[["tenure", "monthly"]]
    model = Pipeline([("clip", Clip()), ("model", LogisticRegression())]).fit(numeric, churn)
    data, manifest = build_package(model, input_example=numeric)
    assert manifest.format == "skops"
    with pytest.raises(PermissionDenied, match="Clip"):
        load_model(data, trust_pickle=False)
    loaded = load_model(data, trust_pickle=True)
    np.testing.assert_array_equal(loaded.predict(numeric), model.predict(numeric))


def test_only_classes_and_ufuncs_of_trusted_libraries_load_without_trust() -> None:
    frame, churn = _customers(100)
    numeric = frame[["tenure", "monthly"]]
    safe = Pipeline([("log", FunctionTransformer(np.log1p)), ("model", LogisticRegression())]).fit(
        numeric, churn
    )
    np.testing.assert_array_equal(
        load_model(build_package(safe, input_example=numeric)[0], trust_pickle=False).predict(numeric),
        safe.predict(numeric),
    )
    # A plain function is called on the data: even numpy's needs trust.
    risky = Pipeline([("f", FunctionTransformer(np.nan_to_num)), ("model", LogisticRegression())])
    risky.fit(numeric, churn)
    with pytest.raises(PermissionDenied, match=r"numpy\.nan_to_num"):
        load_model(build_package(risky, input_example=numeric)[0], trust_pickle=False)


@pytest.fixture
def content(tmp_path: Path) -> Iterator[ContentStore]:
    yield ContentStore(LocalArtifactStore(tmp_path / "artifacts"))


def test_a_verified_package_loads(content: ContentStore, trained: tuple[Pipeline, pd.DataFrame]) -> None:
    model, frame = trained
    data, _ = build_package(model, input_example=frame)
    blob = content.put_bytes(data)
    loaded = load_verified(content, blob.digest, trust_pickle=False)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))


def test_a_flipped_byte_is_refused_before_loading(
    content: ContentStore, trained: tuple[Pipeline, pd.DataFrame], tmp_path: Path
) -> None:
    model, frame = trained
    data, _ = build_package(model, input_example=frame)
    blob = content.put_bytes(data)
    stored = tmp_path / "artifacts" / blob_key(blob.digest)
    corrupted = bytearray(stored.read_bytes())
    corrupted[len(corrupted) // 2] ^= 0x01
    stored.write_bytes(bytes(corrupted))
    with pytest.raises(
        CorruptArtifact, match=f"refusing to load model package: artifact {blob.digest} is corrupt"
    ):
        load_verified(content, blob.digest, trust_pickle=True)


def test_bytes_that_are_not_a_package_are_refused() -> None:
    with pytest.raises(InvalidInput, match="not a zip file"):
        load_model(b"definitely not a zip", trust_pickle=False)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model/model.pkl", b"...")
    with pytest.raises(InvalidInput, match=f"no {MANIFEST_NAME}"):
        read_manifest(buffer.getvalue())


def test_a_package_from_a_newer_shipyard_is_refused(trained: tuple[Pipeline, pd.DataFrame]) -> None:
    model, frame = trained
    _, manifest = build_package(model, input_example=frame)
    document = manifest.to_dict() | {"format_version": 99}
    with pytest.raises(InvalidInput, match="upgrade Shipyard"):
        PackageManifest.from_dict(document)


def test_what_cannot_be_packaged_is_refused(trained: tuple[Pipeline, pd.DataFrame]) -> None:
    model, frame = trained
    with pytest.raises(InvalidInput, match="no predict") as caught:
        build_package(object(), input_example=frame)
    assert caught.value.field == "model"
    with pytest.raises(InvalidInput, match=r"unknown model flavor 'keras'.*sklearn") as caught:
        build_package(model, input_example=frame, flavor="keras")
    assert caught.value.field == "flavor"
    with pytest.raises(InvalidInput, match="flavor 'xgboost' cannot save"):
        build_package(model, input_example=frame, flavor="xgboost")
    with pytest.raises(InvalidInput, match="input_example must be a pandas DataFrame"):
        build_package(model, input_example=frame.to_numpy())  # type: ignore[arg-type]
    lambda_pipeline = Pipeline(
        [("double", FunctionTransformer(lambda x: x * 2)), ("m", LogisticRegression())]
    )
    numeric = frame[["tenure", "monthly"]]
    with pytest.raises(InvalidInput, match=r"cannot be loaded back .* flavor='pyfunc'"):
        build_package(lambda_pipeline.fit(numeric, model.predict(frame)), input_example=numeric)
    with pytest.raises(InvalidInput, match="failed to predict on input_example") as caught:
        build_package(model, input_example=frame.drop(columns="plan"))
    assert caught.value.field == "input_example"


def test_log_model_stores_a_package_as_a_run_artifact(
    trained: tuple[Pipeline, pd.DataFrame], tmp_path: Path
) -> None:
    model, frame = trained
    with Client(load_settings(home=tmp_path / "home")) as client:
        with client.start_run("packaging") as run:
            artifact = run.log_model(model, "churn-model", input_example=frame)
        assert artifact.path == "churn-model"
        downloaded = client.tracking.download_artifact(run.id, "churn-model", tmp_path / "m.zip")
    loaded = load_model(downloaded.read_bytes(), trust_pickle=False)
    assert loaded.flavor == "sklearn"
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))


def test_log_model_works_against_a_server(trained: tuple[Pipeline, pd.DataFrame], tmp_path: Path) -> None:
    from shipyard.app import build_app
    from support.live_server import start_live_server

    model, frame = trained
    app = build_app(load_settings(home=tmp_path / "server"))
    try:
        app.accounts.create_user("alice", role="admin")
        token = app.accounts.create_token("alice", name="laptop").secret
        with (
            start_live_server(app) as server,
            Client(load_settings(home=tmp_path / "laptop", url=server.url, token=token)) as client,
        ):
            assert client.remote
            with client.start_run("packaging") as run:
                artifact = run.log_model(model, input_example=frame)
        assert artifact.path == "model"
        loaded = load_verified(app.content, artifact.digest, trust_pickle=False)
    finally:
        app.close()
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
