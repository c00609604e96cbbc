"""The prediction server in process: protocols, signature checks, auth, routing, shadow and canary
comparisons, micro-batching, following deployment changes, the LRU fleet and the inference log.
Real registry (SQLite, local artifacts), real accounts, real scikit-learn models."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from shipyard.app import build_app
from shipyard.config import load_settings
from shipyard.serving.model import Deployment, Target
from shipyard.storage.artifacts.local import LocalArtifactStore
from support.serving import ROW, Registry, make_registry, rows, serving, single, wait_for


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    tmp = tmp_path_factory.mktemp("serving")
    app = build_app(load_settings(home=tmp / "home", artifacts=str(tmp / "artifacts")))
    yield make_registry(app, tmp)
    app.close()


PREDICT = "/v1/deployments/churn/predict"


def test_own_json_single_row_and_batch_answer_with_version_and_request_id(registry: Registry) -> None:
    with serving(registry, [single("churn", registry.v1)]) as s:
        one = s.post(PREDICT, {"inputs": ROW}, registry.viewer, **{"X-Request-ID": "req-1"})
        assert one.status_code == 200, one.text
        body = one.json()
        assert body["version"] == registry.v1 and body["request_id"] == "req-1"
        assert one.headers["x-request-id"] == "req-1" and one.headers["x-model-version"] == str(registry.v1)
        assert body["prediction"] in (0, 1) and body["predictions"] == [body["prediction"]]
        many = s.post(PREDICT, {"inputs": rows(20)}, registry.viewer).json()
        assert len(many["predictions"]) == 20 and "prediction" not in many
        assert len(many["request_id"]) == 32  # generated when the caller sends none


def test_mlflow_payloads_all_give_the_same_predictions(registry: Registry) -> None:
    data = rows(5)
    names = list(data[0])
    payloads = {
        "dataframe_split": {"columns": names, "data": [[r[n] for n in names] for r in data]},
        "dataframe_records": data,
        "instances": data,
        "inputs": {n: [r[n] for r in data] for n in names},
    }
    with serving(registry, [single("churn", registry.v1)]) as s:
        expected = s.post(PREDICT, {"inputs": data}, registry.viewer).json()["predictions"]
        for key, value in payloads.items():
            for path in ("/invocations", "/v1/deployments/churn/invocations"):
                answer = s.post(path, {key: value}, registry.viewer)
                assert answer.status_code == 200, (key, answer.text)
                assert answer.json() == {"predictions": expected}, key
        both = s.post("/invocations", {"instances": data, "inputs": payloads["inputs"]}, registry.viewer)
        assert both.status_code == 422 and "exactly one" in both.json()["error"]


def test_open_inference_protocol_v2(registry: Registry) -> None:
    data = rows(3)
    tensors = [
        {"name": n, "shape": [3], "datatype": "BYTES" if isinstance(data[0][n], str) else "FP64",
         "data": [r[n] for r in data]}
        for n in data[0]
    ]  # fmt: skip
    with serving(registry, [single("churn", registry.v1)]) as s:
        expected = s.post(PREDICT, {"inputs": data}, registry.viewer).json()["predictions"]
        answer = s.post("/v2/models/churn/infer", {"id": "abc", "inputs": tensors}, registry.viewer)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (
            body["id"] == "abc"
            and body["model_name"] == "churn"
            and body["model_version"] == str(registry.v1)
        )
        assert body["outputs"][0]["data"] == expected and body["outputs"][0]["shape"] == [3]
        pinned = s.post(
            f"/v2/models/churn/versions/{registry.v1}/infer", {"inputs": tensors}, registry.viewer
        )
        assert pinned.status_code == 200
        wrong = s.post("/v2/models/churn/versions/99/infer", {"inputs": tensors}, registry.viewer)
        assert wrong.status_code == 404 and wrong.json()["field"] == "version"
        auth = {"Authorization": f"Bearer {registry.viewer}"}
        meta = s.client.get("/v2/models/churn", headers=auth).json()
        assert [i["name"] for i in meta["inputs"]] == list(ROW) and meta["versions"] == [str(registry.v1)]
        assert s.client.get("/v2/health/live").status_code == 200
        assert s.client.get("/v2/health/ready").status_code == 200
        assert s.client.get("/v2/models/churn/ready", headers=auth).json()["ready"] is True
        assert s.client.get("/v2/models/nope/ready", headers=auth).status_code == 404
        # Without a token a model's metadata is refused, and unknown names answer the same.
        for path in (
            "/v2/models/churn",
            "/v2/models/churn/ready",
            "/v2/models/nope",
            "/v2/models/nope/ready",
        ):
            assert s.client.get(path).status_code == 401, path


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"inputs": {k: v for k, v in ROW.items() if k != "contract"}}, "inputs.contract", 422),
        ({"inputs": {**ROW, "tenure_months": "three"}}, "inputs.tenure_months", 422),
        ({"inputs": {**ROW, "contract": 7}}, "inputs.contract", 422),
        ({"rows": [ROW]}, "inputs", 422),
        ([ROW], "inputs", 422),
        ({"inputs": []}, "inputs", 422),
        ({"inputs": [ROW] * 10_001}, "inputs", 422),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(
    registry: Registry, body: object, field: str, status: int
) -> None:
    with serving(registry, [single("churn", registry.v1)], max_body_bytes=10_000_000) as s:
        answer = s.post(PREDICT, body, registry.viewer)
        assert answer.status_code == status, answer.text
        assert answer.json()["field"] == field


def test_unknown_deployment_size_limit_and_media_type(registry: Registry) -> None:
    with serving(registry, [single("churn", registry.v1)], max_body_bytes=2_000) as s:
        entities = s.post(PREDICT, {"entities": {"customer_id": 1}}, registry.viewer)
        assert entities.status_code == 422 and entities.json()["field"] == "entities"
        missing = s.post("/v1/deployments/nope/predict", {"inputs": ROW}, registry.viewer)
        assert missing.status_code == 404 and missing.json()["field"] == "deployment"
        big = s.post(PREDICT, {"inputs": rows(100)}, registry.viewer)
        assert big.status_code == 413 and "limit of 2000 bytes" in big.json()["error"]
        text = s.client.post(
            PREDICT,
            content="a,b",
            headers={"Content-Type": "text/csv", "Authorization": f"Bearer {registry.viewer}"},
        )
        assert text.status_code == 415
        broken = s.client.post(
            PREDICT,
            content=b"{",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {registry.viewer}"},
        )
        assert broken.status_code == 400 and broken.json()["field"] == "body"


def test_prediction_paths_answer_only_post_and_only_their_exact_shape(registry: Registry) -> None:
    with serving(registry, [single("churn", registry.v1, public=True)]) as s:
        assert s.client.get(PREDICT).status_code == 405
        assert s.client.get("/invocations").status_code == 405
        assert s.post(PREDICT + "/more", {"inputs": ROW}).status_code == 404
        assert s.post("/v1/deployments//predict", {"inputs": ROW}).status_code == 404
        assert s.post("/v2/models/churn/versions/1/extra/infer", {"inputs": []}).status_code == 404
        tensors = [
            {"name": k, "shape": [1], "datatype": "BYTES" if isinstance(v, str) else "FP64", "data": [v]}
            for k, v in ROW.items()
        ]
        versioned = s.post(f"/v2/models/churn/versions/{registry.v1}/infer", {"inputs": tensors})
        assert versioned.status_code == 200 and versioned.json()["model_version"] == str(registry.v1)
        assert s.post("/v2/models/churn/versions/1x/infer", {"inputs": tensors}).status_code == 404


def test_predicting_needs_a_token_allowed_to_predict_unless_public(registry: Registry) -> None:
    with serving(registry, [single("churn", registry.v1), single("open", registry.v1, public=True)]) as s:
        assert s.post(PREDICT, {"inputs": ROW}).status_code == 401
        assert s.post(PREDICT, {"inputs": ROW}, "shp_not-a-token").status_code == 401
        denied = s.post(PREDICT, {"inputs": ROW}, registry.nobody)
        assert denied.status_code == 403 and "deployments.predict" in denied.json()["error"]
        assert s.post(PREDICT, {"inputs": ROW}, registry.viewer).status_code == 200
        assert s.post("/v1/deployments/open/predict", {"inputs": ROW}).status_code == 200


def test_a_caller_without_a_valid_token_gets_401_whatever_the_deployment(registry: Registry) -> None:
    deployments = [single("churn", registry.v1), single("open", registry.v1, public=True)]
    tensors = [{"name": k, "shape": [1], "datatype": "FP64", "data": [1]} for k in ROW]
    with serving(registry, deployments) as s:
        for path, body in [
            ("/v1/deployments/nope/predict", {"inputs": ROW}),
            ("/v1/deployments/nope/invocations", {"instances": [ROW]}),
            ("/v2/models/nope/infer", {"inputs": tensors}),
            ("/v2/models/nope/versions/7/infer", {"inputs": tensors}),
            ("/v2/models/churn/versions/1x/infer", {"inputs": tensors}),  # a version that cannot exist
            ("/invocations", {"instances": [ROW]}),  # two deployments: no default one
        ]:
            for token in (None, "shp_not-a-token"):
                answer = s.post(path, body, token)
                assert answer.status_code == 401, (path, token, answer.text)
                assert "nope" not in answer.text
            missing = s.post(path, body, registry.viewer)  # a valid token learns what is missing
            assert missing.status_code == 404, (path, missing.text)
        assert s.post("/v1/deployments/open/predict", {"inputs": ROW}).status_code == 200
        assert s.post(PREDICT, {"inputs": ROW}).status_code == 401


def test_a_deployment_change_is_followed_within_two_seconds(registry: Registry) -> None:
    with serving(registry, [single("churn", registry.v1, public=True)], poll_seconds=0.5) as s:
        assert s.post(PREDICT, {"inputs": ROW}).json()["version"] == registry.v1
        s.change("churn", targets=(Target("churn", registry.v2, "primary", 100),))
        wait_for(lambda: s.post(PREDICT, {"inputs": ROW}).json()["version"] == registry.v2, 2.0, "the switch")


def test_canary_splits_traffic_and_counts_agreement(registry: Registry) -> None:
    canary = Deployment(
        "churn", "churn", "canary",
        (Target("churn", registry.v1, "primary", 50), Target("churn", registry.v2, "challenger", 50)),
        public=True,
    )  # fmt: skip
    with serving(registry, [canary]) as s:
        versions = {s.post(PREDICT, {"inputs": ROW}).json()["version"] for _ in range(60)}
        assert versions == {registry.v1, registry.v2}
        s.server.report_windows()
        wait_for(lambda: any(w.compared for w in s.source.windows), what="comparisons")
        s.server.report_windows()
        challenger = [w for w in s.source.windows if w.version == registry.v2]
        assert sum(w.requests for w in challenger) > 0
        assert sum(w.compared for w in challenger) > 0
        assert all(w.role == "challenger" for w in challenger)


def test_shadow_answers_are_logged_and_compared_never_returned(registry: Registry, tmp_path: Path) -> None:
    shadow = Deployment(
        "churn", "churn", "shadow",
        (Target("churn", registry.v1, "primary", 100), Target("churn", registry.v2, "shadow", 0)),
        public=True,
    )  # fmt: skip
    store = LocalArtifactStore(tmp_path / "log")
    with serving(registry, [shadow], store=store, spill=tmp_path / "spill") as s:
        for _ in range(10):
            assert s.post(PREDICT, {"inputs": rows(2)}).json()["version"] == registry.v1
        wait_for(lambda: s.log is not None and s.log.stats["queued"] >= 40, what="shadow answers logged")
        s.server.report_windows()
    windows = [w for w in s.source.windows if w.role == "shadow"]
    assert sum(w.compared for w in windows) == 20 and sum(w.requests for w in windows) == 10
    roles = pq.ParquetDataset(tmp_path / "log" / "inference-log").read().column("role").to_pylist()
    assert roles.count("shadow") == 20 and roles.count("primary") == 20


def test_concurrent_requests_are_micro_batched(registry: Registry) -> None:
    with serving(
        registry, [single("churn", registry.v1, public=True)], max_wait_ms=200, max_batch_rows=8
    ) as s:
        s.post(PREDICT, {"inputs": ROW})  # loaded

        async def together() -> list[int]:  # eight requests in flight at once, in the server's loop
            transport = httpx.ASGITransport(app=s.client.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
                answers = await asyncio.gather(
                    *(client.post(PREDICT, json={"inputs": ROW}) for _ in range(8))
                )
            return [a.status_code for a in answers]

        assert s.client.portal is not None
        assert s.client.portal.call(together) == [200] * 8
        text = s.client.get("/metrics").text
        count = _sample(text, 'shipyard_predict_batch_rows_count{model="churn",version="1"}')
        total = _sample(text, 'shipyard_predict_batch_rows_sum{model="churn",version="1"}')
        assert total == 9 and count < 9  # nine requests in fewer model calls


def test_a_lone_request_does_not_wait_out_max_wait(registry: Registry) -> None:
    with serving(registry, [single("churn", registry.v1, public=True)], max_wait_ms=5_000) as s:
        s.post(PREDICT, {"inputs": ROW})  # loaded
        for _ in range(3):
            began = time.monotonic()
            assert s.post(PREDICT, {"inputs": ROW}).status_code == 200
            assert time.monotonic() - began < 2.5  # nothing else in flight: the batch goes at once


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


def test_fleet_evicts_least_recently_used_under_the_memory_cap(registry: Registry) -> None:
    fleet = [single(f"d{i}", registry.v1 if i % 2 else registry.v2, public=True) for i in range(4)]
    with serving(registry, fleet, memory_cap_mb=0.001, preload=0) as s:
        for i in range(4):
            assert s.post(f"/v1/deployments/d{i}/predict", {"inputs": ROW}).status_code == 200
        assert len(s.server.fleet) == 1  # the cap holds one version at most: the latest
        text = s.client.get("/metrics").text
        assert _sample(text, "shipyard_model_evictions_total") == 3
        assert _sample(text, "shipyard_models_loaded") == 1
        assert _sample(text, "shipyard_models_loaded_bytes") == s.server.fleet.used > 0


class FailingStore(LocalArtifactStore):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.failing = True

    def put_bytes(self, key: str, data: bytes) -> None:
        if self.failing:
            raise OSError("store unavailable")
        super().put_bytes(key, data)


def test_a_failing_log_write_never_fails_a_prediction_and_is_spilled_then_uploaded(
    registry: Registry, tmp_path: Path
) -> None:
    store = FailingStore(tmp_path / "log")
    with serving(
        registry, [single("churn", registry.v1, public=True)], store=store, spill=tmp_path / "spill"
    ) as s:
        for _ in range(5):
            assert s.post(PREDICT, {"inputs": ROW}).status_code == 200
        assert s.log is not None
        wait_for(lambda: s.log is not None and s.log.stats["spilled"] == 5, what="spilled rows")
        text = s.client.get("/metrics").text
        assert _sample(text, "shipyard_inference_log_spilled_total") == 5
        assert _sample(text, "shipyard_inference_log_failed_writes_total") >= 3
        assert list((tmp_path / "spill").rglob("*.parquet"))
        store.failing = False
        wait_for(lambda: not list((tmp_path / "spill").rglob("*.parquet")), what="spilled files uploaded")
    table = pq.ParquetDataset(tmp_path / "log" / "inference-log").read()
    assert table.num_rows == 5 and set(table.column("version").to_pylist()) == {registry.v1}


class Features:
    """An online feature service with fixed values per customer (the real one is tested in the
    feature store's suites; this checks what the server does with what it returns)."""

    def get_online_features(self, features: Any = None, service: Any = None, *, entity_rows: Any) -> Any:
        class Response:
            columns = {
                "customer_id": [r["customer_id"] for r in entity_rows],
                "tenure_months": [10 * r["customer_id"] for r in entity_rows],
                "support_calls": [1 for _ in entity_rows],
            }

        return Response()


def test_online_features_are_fetched_by_entity_and_logged(registry: Registry, tmp_path: Path) -> None:
    deployment = replace(single("churn", registry.v1, public=True), feature_service="churn_features")
    store = LocalArtifactStore(tmp_path / "log")
    sent = {k: v for k, v in ROW.items() if k not in ("tenure_months", "support_calls")}
    with serving(registry, [deployment], store=store, features=Features()) as s:
        answer = s.post(
            PREDICT, {"inputs": [sent, sent], "entities": [{"customer_id": 1}, {"customer_id": 2}]}
        )
        assert answer.status_code == 200, answer.text
        without = s.post(PREDICT, {"inputs": sent})
        assert without.status_code == 422 and without.json()["field"] == "inputs.tenure_months"
    table = pq.ParquetDataset(tmp_path / "log" / "inference-log").read().to_pylist()
    assert [r["features"] for r in table] == [
        '{"customer_id":1,"tenure_months":10,"support_calls":1}',
        '{"customer_id":2,"tenure_months":20,"support_calls":1}',
    ]
    assert '"tenure_months":20' in table[1]["inputs"]
