"""What one tracking write over HTTP costs the metadata database: the number of transactions the
server app opens for it, counted on the app's own engine, on SQLite and PostgreSQL.

A metric batch is the hot path of remote logging: authorization (token, the run's experiment, the
caller's grants) is one read transaction, the write is one more.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.migrations import runner
from shipyard.server import create_app
from support.databases import fresh_postgres_database

USER = "carol"
EXPERIMENT = "churn"
OTHER = "fraud"


@dataclass
class Site:
    app: App
    client: TestClient

    def new_run(self, experiment: str = EXPERIMENT) -> str:
        return self.app.tracking.create_run(experiment).id

    @contextmanager
    def transactions(self) -> Iterator[list[int]]:
        """Count the transactions begun on the app's engine inside the block (in ``count[0]``)."""
        count = [0]

        def begun(conn: object) -> None:
            count[0] += 1

        event.listen(self.app.db.engine, "begin", begun)
        try:
            yield count
        finally:
            event.remove(self.app.db.engine, "begin", begun)


@contextmanager
def database_url(kind: str, home: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{home / 'shipyard.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp(request.param)
    with database_url(request.param, home) as url:
        app = build_app(load_settings(home=home, db_url=url), migrate=False)
        try:
            runner.upgrade(app.db)
            # A grant scoped to the experiment: authorization must find the run's experiment.
            app.accounts.create_user(USER)
            app.accounts.grant_role(USER, "contributor", experiment=EXPERIMENT)
            token = app.accounts.create_token(USER).secret
            app.tracking.create_experiment(EXPERIMENT)
            app.tracking.create_experiment(OTHER)
            headers = {"Authorization": f"Bearer {token}"}
            with TestClient(create_app(app), headers=headers) as client:
                yield Site(app, client)
        finally:
            app.close()


def point(key: str, value: float, step: int = 0) -> list[object]:
    """A metric point as the wire carries it: ``[key, value, step, timestamp_ms]``."""
    return [key, value, step, 1_700_000_000_000 + step]


def test_a_metric_batch_costs_two_transactions(site: Site) -> None:
    run_id = site.new_run()
    points = [point(key, 0.5, step) for step in range(100) for key in ("loss", "auc")]
    with site.transactions() as count:
        response = site.client.post(
            f"/api/v1/runs/{run_id}/metrics", json={"batch_id": "b-1", "points": points}
        )
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 200}
    assert count[0] <= 2
    assert len(site.app.tracking.metric_history(run_id, "auc")) == 100


def test_a_single_metric_costs_two_transactions(site: Site) -> None:
    run_id = site.new_run()
    with site.transactions() as count:
        response = site.client.post(f"/api/v1/runs/{run_id}/metrics", json={"points": [point("loss", 0.25)]})
    assert response.status_code == 200, response.text
    assert count[0] <= 2
    assert site.app.tracking.get_run(run_id).metrics["loss"].value == 0.25


def test_params_and_tags_cost_two_transactions_each(site: Site) -> None:
    run_id = site.new_run()
    for route, body in (("params", {"params": {"lr": "0.1"}}), ("tags", {"tags": {"team": "growth"}})):
        with site.transactions() as count:
            response = site.client.post(f"/api/v1/runs/{run_id}/{route}", json=body)
        assert response.status_code == 204, response.text
        assert count[0] <= 2, route
    run = site.app.tracking.get_run(run_id)
    assert run.params == {"lr": "0.1"} and run.tags == {"team": "growth"}


def test_a_run_created_under_a_scoped_grant_costs_two_transactions(site: Site) -> None:
    with site.transactions() as count:
        response = site.client.post("/api/v1/runs", json={"experiment": EXPERIMENT, "name": "second"})
    assert response.status_code == 201, response.text
    assert count[0] <= 2


def test_a_run_of_another_experiment_is_refused_after_one_transaction(site: Site) -> None:
    other = site.new_run(OTHER)
    with site.transactions() as count:
        response = site.client.post(f"/api/v1/runs/{other}/metrics", json={"points": [point("loss", 0.25)]})
    assert response.status_code == 403
    assert f"may not perform tracking.write on experiment '{OTHER}'" in response.json()["error"]["message"]
    assert count[0] == 1  # the authorization lookup; nothing written
    assert site.app.tracking.get_run(other).metrics == {}


def test_an_unknown_run_is_refused_under_a_scoped_grant(site: Site) -> None:
    response = site.client.post("/api/v1/runs/0123456789abcdef0123456789abcdef/metrics", json={"points": []})
    assert response.status_code == 403  # a scoped grant does not reveal whether a run exists
