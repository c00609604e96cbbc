"""A prediction server over a real registry (SQLite, local artifacts) with two churn versions, for
the serving tests: in process through Starlette's TestClient (lifespan and all)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from starlette.testclient import TestClient

from shipyard.app import AccountsPredictAuthorizer, App, RegistryModelSource
from shipyard.serving.inference_log import InferenceLog
from shipyard.serving.model import Deployment, Target
from shipyard.serving.ports import OnlineFeatures
from shipyard.serving.runtime.http import build_http_app
from shipyard.serving.runtime.server import PredictionServer, ServeConfig
from shipyard.serving.sources import MemoryDeployments
from shipyard.storage.artifacts.base import ArtifactStore
from support.registry_models import FEATURES, churn_data, register, train

ROW = {
    "tenure_months": 3,
    "monthly_charges": 50.5,
    "support_calls": 2,
    "contract": "monthly",
    "payment_method": "card",
}


def rows(n: int) -> list[dict[str, object]]:
    _, evaluation = churn_data()
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
        for r in evaluation[FEATURES].head(n).to_dict("records")
    ]


@dataclass
class Registry:
    app: App
    v1: int
    v2: int
    viewer: str  # a token allowed to predict
    nobody: str  # a valid token without any grant


def make_registry(app: App, tmp: Path) -> Registry:
    v1 = register(app, tmp).version
    weak = ["tenure_months", "contract", "support_calls"]
    v2 = register(app, tmp, model=train(weak, C=0.01), features=weak).version
    app.registry.set_alias("churn", "champion", v1, actor="alice")
    app.accounts.create_user("vera", role="viewer")
    app.accounts.create_user("nina")
    return Registry(
        app, v1, v2, app.accounts.create_token("vera").secret, app.accounts.create_token("nina").secret
    )


def single(name: str, version: int, *, public: bool = False, **kw: object) -> Deployment:
    return Deployment(
        name, "churn", "single", (Target("churn", version, "primary", 100),), public=public, **kw
    )  # type: ignore[arg-type]


@dataclass
class Served:
    client: TestClient
    server: PredictionServer
    source: MemoryDeployments
    log: InferenceLog | None

    def post(self, path: str, body: object, token: str | None = None, **headers: str) -> object:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.post(path, json=body, headers=headers)

    def change(self, name: str, **changes: object) -> Deployment:
        return self.source.put(replace(self.source.get(name), **changes))  # type: ignore[arg-type]


@contextmanager
def serving(
    registry: Registry,
    deployments: list[Deployment],
    *,
    store: ArtifactStore | None = None,
    spill: Path | None = None,
    features: OnlineFeatures | None = None,
    **config: object,
) -> Iterator[Served]:
    source = MemoryDeployments(deployments)
    log = None
    if store is not None:
        log = InferenceLog(store, spill_dir=spill or Path("spill"), flush_seconds=0.1, retry_delay=0.01)
    server = PredictionServer(
        RegistryModelSource(registry.app),
        source,
        config=ServeConfig(**{"poll_seconds": 0.05, "window_seconds": 0.2, **config}),  # type: ignore[arg-type]
        authorizer=AccountsPredictAuthorizer(registry.app.accounts),
        features=features,
        inference_log=log,
        windows=source,
    )
    with TestClient(build_http_app(server)) as client:
        yield Served(client, server, source, log)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)
