"""Model cards, version comparison, and loading through the registry and the ``shipyard.models``
SDK facade (embedded client), including refusing a package whose stored bytes were altered."""

from __future__ import annotations

from pathlib import Path

import pytest

import shipyard.models
from shipyard.app import App
from shipyard.client import Client
from shipyard.config import load_settings
from shipyard.errors import BackendUnavailable, CorruptArtifact, InvalidInput, NotFound
from shipyard.registry.entities import FairnessLimits, GatePolicy
from support.registry_models import FEATURES, LABEL, churn_data, log_trained_run, register


def test_the_card_tells_the_versions_story(app: App, tmp_path: Path) -> None:
    app.registry.create_model("churn", "Predicts which customers leave next month.", actor="alice")
    run_id = log_trained_run(
        app, tmp_path, tags={"shipyard.feature_service": "churn_v1"}, git_commit="c0ffee"
    )
    app.registry.create_version(
        "churn",
        run_id,
        description="Logistic regression on five features.",
        limitations="Trained on consumer plans only.",
        actor="alice",
    )
    app.registry.transition("churn", 1, "staging", actor="alice")
    limits = FairnessLimits(
        "age_band", max_demographic_parity_difference=0.5, max_equalized_odds_difference=0.5
    )
    app.registry.set_policy("churn", GatePolicy(fairness=limits, require_approval=True), actor="rita")
    app.registry.evaluate_gates("churn", 1, "production", churn_data()[1], label=LABEL, actor="alice")
    request = app.registry.request_approval("churn", 1, "production", actor="alice", comment="please")
    app.registry.decide_approval(request.id, True, actor="rita", comment="fair enough")
    app.registry.transition("churn", 1, "production", actor="dave", comment="launch")

    markdown, html = app.registry.card("churn", 1)
    version = app.registry.get_version("churn", 1)
    assert version.training_data is not None
    for text in (
        "# Model card: churn version 1",
        "Predicts which customers leave next month.",
        "Logistic regression on five features.",
        version.training_data.digest,
        "churn_v1",
        "c0ffee",
        "| accuracy |",
        "| demographic_parity_difference |",
        "| equalized_odds_difference |",
        "Trained on consumer plans only.",
        "| rita | ",
        "fair enough",
        "| staging | production | dave | launch |",
    ):
        assert text in markdown, text
    assert "<h2>Fairness</h2>" in html and "fair enough" in html and "c0ffee" in html


def test_the_html_card_escapes_user_text(app: App, tmp_path: Path) -> None:
    register(app, tmp_path)
    app.registry.update_version("churn", 1, description="<script>alert(1)</script>", actor="mallory")
    markdown, html = app.registry.card("churn", 1)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "No fairness evaluation is stored" in markdown and "_No approvals were requested._" in markdown


def test_compare_shows_metric_param_data_and_feature_differences(app: App, tmp_path: Path) -> None:
    register(app, tmp_path)
    register(app, tmp_path, features=["tenure_months", "contract"])
    c = app.registry.compare("churn", 1, 2)
    assert c.features_removed == ("monthly_charges", "payment_method", "support_calls")
    assert c.features_added == () and c.features_retyped == ()
    assert c.same_training_data
    assert c.differing_params() == ("features",)
    left, right = c.metrics["accuracy"]
    assert (
        left is not None and right is not None and c.metric_delta("accuracy") == pytest.approx(right - left)
    )
    with pytest.raises(NotFound):
        app.registry.compare("churn", 1, 3)


def test_loading_verifies_the_stored_bytes(app: App, tmp_path: Path) -> None:
    version = register(app, tmp_path)
    frame = churn_data()[1][FEATURES].head(4)
    assert app.registry.load("churn/1").predict(frame).shape == (4,)
    hex_part = version.artifact_digest.removeprefix("sha256:")
    blob = tmp_path / "artifacts" / "sha256" / hex_part[:2] / hex_part[2:4] / hex_part
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(CorruptArtifact, match=hex_part[:12]):
        app.registry.load("churn/1")


def test_the_sdk_facade_loads_by_alias_stage_and_version(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home", artifacts=str(tmp_path / "artifacts"), user="alice")
    with Client(settings) as client:
        app = client._local_app("test")
        run_id = log_trained_run(app, tmp_path)
        version = shipyard.models.register("churn", run_id, client=client)
        assert (version.ref, version.created_by) == ("churn/1", "alice")
        shipyard.models.transition("churn/1", "staging", client=client)
        shipyard.models.transition("churn/1", "production", client=client)
        client.registry.set_alias("churn", "champion", 1, actor="alice")
        frame = churn_data()[1][FEATURES].head(3)
        for ref in ("churn@champion", "churn/1", "churn@production"):
            assert shipyard.models.load(ref, client=client).predict(frame).shape == (3,)
        assert shipyard.models.get("churn@champion", client=client).version == 1
        assert [m.name for m in shipyard.models.list_models(client=client)] == ["churn"]
        with pytest.raises(InvalidInput, match="names no version"):
            shipyard.models.load("churn", client=client)
        with pytest.raises(NotFound, match="no alias 'challenger'"):
            shipyard.models.load("churn@challenger", client=client)


def test_in_remote_mode_registry_calls_report_an_unreachable_server(tmp_path: Path) -> None:
    client = Client(load_settings(home=tmp_path, url="http://127.0.0.1:9"))
    with pytest.raises(
        BackendUnavailable, match=r"cannot reach the Shipyard server at http://127\.0\.0\.1:9"
    ):
        shipyard.models.register("churn", "0" * 32, client=client)
    assert not (tmp_path / "shipyard.db").exists()  # no local database was opened instead
    with pytest.raises(BackendUnavailable, match="cannot reach the Shipyard server"):
        shipyard.models.load("churn@champion", client=client)
    client.close()
