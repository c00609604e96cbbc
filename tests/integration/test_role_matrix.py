"""Every route by every role: a role's token reaches exactly the routes its role allows.

Routes are discovered from the real app, so a route added later is covered without editing this
file, and a route that declares no ``authorize`` dependency fails the test. What each role may do
is written out by hand in ``support/roles.py``, independently of ``shipyard.accounts.permissions``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import routing
from fastapi.testclient import TestClient

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.server import create_app
from support.roles import ADMIN, ROLE_ACTIONS

#: role -> the actions its (global) grant allows. "nobody" holds no grant at all.
ALLOWED: dict[str, frozenset[str]] = {**ROLE_ACTIONS, "nobody": frozenset()}

#: Routes that are open on purpose: probes, API docs, the UI's login/logout and its redirect home.
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/ui/login"),
    ("POST", "/ui/login"),
    ("POST", "/ui/logout"),
    ("GET", "/"),
    ("GET", "/ui/vendor/plotly-{requested}.min.js"),  # the charting library, like /ui/static
}
#: Non-GET routes a viewer may call: they read (a search in a body) or manage the caller's own tokens.
VIEWER_MAY_POST = {
    ("POST", "/api/v1/runs/search"),
    ("POST", "/api/v1/runs/count"),
    ("POST", "/api/v1/runs/compare"),
    ("POST", "/api/v1/me/tokens"),
    ("DELETE", "/api/v1/me/tokens/{token_id}"),
    ("POST", "/api/v1/features/online"),  # reads online feature values for entity keys
}
#: Dummy values for path parameters; anything else gets "x". None of them names a real object.
DUMMY = {"run_id": "0" * 32, "token_id": "0" * 32, "version": "1", "digest": "sha256:" + "0" * 64}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # the template, e.g. /api/v1/runs/{run_id}
    actions: tuple[str, ...]  # from the authorize dependencies the route declares

    @property
    def url(self) -> str:
        def fill(match: re.Match[str]) -> str:
            return DUMMY.get(match[1], "x")

        return re.sub(r"\{(\w+)(?::\w+)?\}", fill, self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _declared_actions(dependant: Any) -> list[str]:
    found: list[str] = []
    for sub in dependant.dependencies:
        action = getattr(sub.call, "shipyard_action", None)
        if action is not None:
            found.append(action)
        found.extend(_declared_actions(sub))
    return found


def _routes(api: Any) -> Iterator[Any]:
    if hasattr(routing, "iter_route_contexts"):  # FastAPI that keeps included routers lazily
        yield from routing.iter_route_contexts(api.routes)
    else:
        yield from api.routes


def discover(api: Any) -> list[Endpoint]:
    endpoints = []
    for route in _routes(api):
        methods = getattr(route, "methods", None)
        if not methods:  # mounts: the UI's static files
            continue
        for method in sorted(methods - {"HEAD"}):
            if (method, route.path) in PUBLIC:
                continue
            dependant = getattr(route, "dependant", None)
            actions = tuple(_declared_actions(dependant)) if dependant is not None else ()
            endpoints.append(Endpoint(method, route.path, actions))
    return endpoints


@dataclass
class Site:
    app: App
    client: TestClient
    tokens: dict[str, str]
    endpoints: list[Endpoint]

    def call(self, endpoint: Endpoint, role: str) -> int:
        response = self.client.request(
            endpoint.method,
            endpoint.url,
            json={} if endpoint.method != "GET" else None,
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            follow_redirects=False,
        )
        return response.status_code


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home: Path = tmp_path_factory.mktemp("matrix")
    app = build_app(load_settings(home=home, artifacts=str(home / "artifacts")))
    tokens = {}
    for role in ALLOWED:
        app.accounts.create_user(role, role=None if role == "nobody" else role)
        tokens[role] = app.accounts.create_token(role).secret
    api = create_app(app)
    with TestClient(api, raise_server_exceptions=False) as client:
        yield Site(app, client, tokens, discover(api))
    app.close()


def test_routes_are_discovered(site: Site) -> None:
    paths = {str(e) for e in site.endpoints}
    assert {"POST /api/v1/runs", "GET /api/v1/audit", "POST /api/v1/roles", "GET /ui"} <= paths
    assert len(site.endpoints) > 30


def test_every_route_declares_exactly_one_known_action(site: Site) -> None:
    undeclared = [str(e) for e in site.endpoints if not e.actions]
    assert undeclared == [], f"routes without an authorize dependency: {undeclared}"
    several = [f"{e} {e.actions}" for e in site.endpoints if len(set(e.actions)) > 1]
    assert several == [], f"routes declaring several actions: {several}"
    unknown = sorted({a for e in site.endpoints for a in e.actions} - ADMIN)
    assert unknown == [], f"actions this matrix does not know (add them to the table): {unknown}"


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_role_reaches_exactly_its_routes(site: Site, role: str) -> None:
    wrong = []
    for endpoint in site.endpoints:
        if not endpoint.actions:
            continue
        status = site.call(endpoint, role)
        allowed = endpoint.actions[0] in ALLOWED[role]
        if allowed and status in (401, 403):
            wrong.append(f"{endpoint} answered {status} but {role} may {endpoint.actions[0]}")
        if not allowed and status != 403:
            wrong.append(f"{endpoint} answered {status} but {role} may not {endpoint.actions[0]}")
    assert wrong == []


def test_no_route_fails_with_a_server_error_on_dummy_input(site: Site) -> None:
    errors = [f"{e} -> {s}" for e in site.endpoints if (s := site.call(e, "admin")) >= 500]
    assert errors == []


def test_a_viewer_cannot_write_anything(site: Site) -> None:
    writes = [e for e in site.endpoints if e.method != "GET" and (e.method, e.path) not in VIEWER_MAY_POST]
    assert len(writes) > 15
    assert {str(e): site.call(e, "viewer") for e in writes} == {str(e): 403 for e in writes}


def test_without_a_role_everything_is_forbidden_but_not_unauthenticated(site: Site) -> None:
    for endpoint in site.endpoints[:5]:
        assert site.call(endpoint, "nobody") == 403
    response = site.client.get("/api/v1/experiments", headers={"Authorization": "Bearer shp_wrong"})
    assert response.status_code == 401


def test_denial_names_the_action_and_the_roles_that_allow_it(site: Site) -> None:
    response = site.client.get(
        "/api/v1/audit", headers={"Authorization": f"Bearer {site.tokens['contributor']}"}
    )
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["type"] == "PermissionDenied"
    assert "audit.read" in error["message"] and "reviewer or admin" in error["message"]
    assert "'contributor'" in error["message"]


# -- the model registry: promotion needs models.deploy, and a model-scoped grant stays on its model --


@pytest.fixture(scope="module")
def two_models(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Site:
    """``churn`` and ``fraud``, version 1 of each in staging; "dana" is a deployer on churn only."""
    from support.registry_models import register, train

    tmp = tmp_path_factory.mktemp("models")
    model = train()
    for name in ("churn", "fraud"):
        register(site.app, tmp, name, model=model, actor="admin")
        site.app.registry.transition(name, 1, "staging", actor="admin")
    site.app.accounts.create_user("dana")
    site.app.accounts.grant_role("dana", "deployer", model="churn", actor="admin")
    site.tokens["dana"] = site.app.accounts.create_token("dana").secret
    return site


def _promote(site: Site, role: str, model: str) -> int:
    response = site.client.post(
        f"/api/v1/models/{model}/versions/1/production",
        json={"comment": f"{role} ships it"},
        headers={"Authorization": f"Bearer {site.tokens[role]}"},
    )
    return response.status_code


def test_a_contributor_cannot_promote_to_production(two_models: Site) -> None:
    assert _promote(two_models, "contributor", "churn") == 403
    assert _promote(two_models, "viewer", "churn") == 403
    assert _promote(two_models, "reviewer", "churn") == 403
    assert two_models.app.registry.get_version("churn", 1).stage.value == "staging"


def test_a_model_scoped_deployer_promotes_only_that_model(two_models: Site) -> None:
    assert _promote(two_models, "dana", "fraud") == 403
    assert two_models.app.registry.get_version("fraud", 1).stage.value == "staging"
    assert _promote(two_models, "dana", "churn") == 200
    assert two_models.app.registry.get_version("churn", 1).stage.value == "production"
    listing = two_models.client.get(
        "/api/v1/models", headers={"Authorization": f"Bearer {two_models.tokens['dana']}"}
    )
    assert listing.status_code == 403  # listing every model needs a global grant
    (record,) = two_models.app.audit.list(actor="dana")
    assert (record.action, record.object_id) == ("version.transition", "churn/1")
    assert record.request_id  # the HTTP request that caused it
