"""The whole chain, as the demo leaves it: source file -> feature view version -> training set ->
run -> model version, through the SDK, the CLI, the REST API, the web UI and the model card."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from shipyard.app import build_app
from shipyard.client import Client
from shipyard.client.tracking_wire import lineage
from shipyard.config import load_settings
from shipyard.demo.scenario import DemoResult
from shipyard.tracking.model import LineageGraph, NodeKind
from support.cli import isolate, ok
from support.live_server import start_live_server
from support.whole_demo import GROUP, WholeDemo

VIEWS = {"customer_profile", "customer_activity"}  # the views that read files

#: The first test to ask for the shared demo runs it (see support.whole_demo).
pytestmark = [pytest.mark.xdist_group(GROUP), pytest.mark.timeout(900)]


@pytest.fixture
def demo(whole_demo: WholeDemo) -> tuple[Path, DemoResult]:
    return whole_demo.root, whole_demo.result


def check_chain(graph: LineageGraph, run_id: str, data_dir: Path) -> None:
    """Every link of the chain is an edge, with the versions and fingerprints recorded."""
    nodes = {n.id: n for n in graph.nodes}
    edges = {(e.source, e.target): e.relation for e in graph.edges}
    training = next(s for (s, t), rel in edges.items() if t == run_id and rel == "input:training")
    assert nodes[training].label == "churn_training"
    views = {s for (s, t) in edges if t == training and nodes[s].kind is NodeKind.FEATURE_VIEW}
    assert {nodes[v].label for v in views} >= {f"{v} v1" for v in VIEWS}
    sources = [(s, t) for (s, t) in edges if nodes[s].kind is NodeKind.SOURCE]
    for view in VIEWS:
        (path,) = [nodes[s].label for s, t in sources if t == f"feature_view:{view}@1"]
        assert Path(path).is_relative_to(data_dir) and Path(path).exists()
    assert all("size:" in s.split("#", 1)[1] for s, _ in sources)  # the fingerprint of each file
    registered = [t for (s, t), rel in edges.items() if s == run_id and rel == "registered"]
    assert registered == ["model_version:churn/1"]
    assert nodes["model_version:churn/1"].kind is NodeKind.MODEL_VERSION


def test_sdk(demo: tuple[Path, DemoResult]) -> None:
    root, result = demo
    client = Client(load_settings(home=root / "home"))
    try:
        check_chain(client.tracking.lineage(result.best_run_id, 2), result.best_run_id, result.data_dir)
        markdown, html = client.registry.card("churn", 1)
    finally:
        client.close()
    assert "Training set `churn_training` version 1 was built by the feature store" in markdown
    for view in VIEWS:
        assert f"| {view} | 1 | {result.data_dir}" in markdown
        assert f"<td>{view}</td><td>1</td>" in html


def test_cli(demo: tuple[Path, DemoResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, result = demo
    isolate(monkeypatch, tmp_path, home=root / "home", width=250)
    out = ok("lineage", result.best_run_id)
    for view in VIEWS:
        assert f"feature view {view} v1" in out
    assert f"source file {result.data_dir}" in out and "model version churn/1" in out
    # Asked about the training set itself, its upstream is no longer "nothing recorded".
    training = ok("lineage", result.best_run_id, "--json")
    assert '"kind": "source"' in training
    digest = client_digest(root, result)
    upstream = ok("lineage", digest).split("downstream")[0]
    assert "nothing recorded" not in upstream and "feature view customer_activity v1" in upstream


def client_digest(root: Path, result: DemoResult) -> str:
    client = Client(load_settings(home=root / "home"))
    try:
        return client.features.datasets.get("churn_training").digest
    finally:
        client.close()


def test_rest_and_ui(demo: tuple[Path, DemoResult]) -> None:
    root, result = demo
    app = build_app(load_settings(home=root / "home"))
    try:
        app.accounts.create_user("reader", role="viewer")
        token = app.accounts.create_token("reader").secret
        with start_live_server(app) as server:
            headers = {"Authorization": f"Bearer {token}"}
            answer = httpx.get(
                f"{server.url}/api/v1/lineage",
                params={"subject": result.best_run_id, "depth": 2},
                headers=headers,
            )
            assert answer.status_code == 200
            check_chain(lineage(answer.json()), result.best_run_id, result.data_dir)
            page = httpx.get(f"{server.url}/ui/runs/{result.best_run_id}", cookies={"shipyard_token": token})
            assert page.status_code == 200
            assert "built from" in page.text and "customer_activity v1" in page.text
            assert "registered as" in page.text and "churn/1" in page.text
    finally:
        app.close()
