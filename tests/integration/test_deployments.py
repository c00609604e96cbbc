"""Deployments on SQLite and PostgreSQL: strategies, the canary decider acting on live figures
(with its figures in the audit trail), one decider among several, and bad input."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from shipyard.audit.service import AuditService
from shipyard.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from shipyard.migrations import runner
from shipyard.serving.deployments import DeploymentService
from shipyard.serving.model import CanaryPolicy
from shipyard.serving.strategies import TargetSpec
from shipyard.storage.metadata.database import Database
from support.databases import fresh_postgres_database
from support.deployments import Clock, MemoryCatalog, window

POLICY = CanaryPolicy(steps=(10, 50), step_seconds=60, min_requests=100, progress_deadline_seconds=600)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path_factory.mktemp('deployments') / 'meta.db'}")
        runner.upgrade(db)
        yield db
        db.dispose()
    else:
        with fresh_postgres_database() as url:
            db = Database(url)
            runner.upgrade(db)
            yield db
            db.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def catalog() -> MemoryCatalog:
    return MemoryCatalog()


@pytest.fixture
def service(database: Database, catalog: MemoryCatalog, clock: Clock) -> DeploymentService:
    svc = DeploymentService(database, catalog, clock=clock)
    for holder in ("a", "b", "decider"):
        svc.decider.release_lease(holder)
    return svc


@pytest.fixture
def name() -> str:
    return f"churn-api-{uuid.uuid4().hex[:8]}"


def _audit(db: Database, name: str) -> list[tuple[str, dict[str, object]]]:
    return [(r.action, dict(r.after or {})) for r in AuditService(db).list(object_id=name)]


def _canary(service: DeploymentService, name: str, policy: CanaryPolicy = POLICY) -> None:
    service.deploy(
        name, "churn@champion", strategy="canary", challenger="churn@2", canary=policy, actor="dana"
    )


def _traffic(
    service: DeploymentService, name: str, start: int, *, requests: int = 300, **challenger: object
) -> None:
    primary = window(name, 1, "primary", start, requests=requests)
    service.record([primary, window(name, 2, "challenger", start, requests=requests, **challenger)])  # type: ignore[arg-type]


# -- strategies ---------------------------------------------------------------------------------


def test_single_deployment_resolves_and_records_the_alias(service: DeploymentService, name: str) -> None:
    before = service.revision()
    deployment = service.deploy(name, "churn@champion", actor="dana")
    assert [(t.model, t.version, t.role, t.weight, t.alias) for t in deployment.targets] == [
        ("churn", 1, "primary", 100, "champion")
    ]
    assert deployment.revision == service.revision() > before
    assert service.get(name) == deployment
    assert name in [d.name for d in service.active()]
    [(action, after)] = _audit(service.db, name)
    assert action == "deployment.create" and after["targets"] == [
        {"model": "churn", "version": 1, "role": "primary", "weight": 100, "alias": "champion"}
    ]


def test_blue_green_switches_at_once_and_back_instantly(service: DeploymentService, name: str) -> None:
    service.deploy(name, "churn@1", strategy="blue_green", actor="dana")
    switched = service.deploy(name, "churn@2", strategy="blue_green", actor="dana")
    assert [(t.version, t.role, t.weight) for t in switched.targets] == [
        (2, "primary", 100),
        (1, "standby", 0),
    ]
    back = service.rollback(name, actor="dana")
    assert [(t.version, t.role, t.weight) for t in back.targets] == [(1, "primary", 100), (2, "standby", 0)]
    assert back.revision > switched.revision
    again = service.rollback(name, actor="dana")  # and forth: the standby is always loaded
    assert again.role("primary").version == 2  # type: ignore[union-attr]
    actions = [a for a, _ in _audit(service.db, name)]
    assert actions == ["deployment.create", "deployment.update", "deployment.rollback", "deployment.rollback"]


def test_pause_resume_and_delete_are_changes_replicas_see(service: DeploymentService, name: str) -> None:
    service.deploy(name, "churn@1", actor="dana")
    revision = service.revision()
    assert service.pause(name, actor="dana").status == "paused"
    assert service.resume(name, actor="dana").status == "active"
    service.delete(name, actor="dana")
    assert service.revision() == revision + 3
    with pytest.raises(NotFound):
        service.get(name)
    assert name not in [d.name for d in service.active()]
    service.deploy(name, "churn@2", actor="dana", create=True)  # the name is free again
    assert service.get(name).role("primary").version == 2  # type: ignore[union-attr]


def test_shadow_is_promoted_by_hand(service: DeploymentService, name: str) -> None:
    service.deploy(name, "churn@1", strategy="shadow", shadow="churn@3", actor="dana")
    promoted = service.promote(name, actor="dana")
    assert promoted.strategy == "blue_green"
    assert [(t.version, t.role) for t in promoted.targets] == [(3, "primary"), (1, "standby")]
    [decision] = service.decisions(name)
    assert (decision.action, decision.actor) == ("promote", "dana")


# -- the canary decider -------------------------------------------------------------------------


def test_a_good_challenger_advances_step_by_step_and_is_promoted(
    service: DeploymentService, clock: Clock, name: str
) -> None:
    _canary(service, name)
    assert service.get(name).role("challenger").weight == 10  # type: ignore[union-attr]
    _traffic(service, name, clock.now)
    clock.advance(30)
    [wait] = service.decide(name, holder="decider")
    assert wait.action == "wait" and "step lasts" in wait.reason  # passing, but the step is not over
    clock.advance(31)
    [advance] = service.decide(name, holder="decider")
    assert (advance.action, advance.weight) == ("advance", 50)
    assert service.get(name).role("primary").weight == 50  # type: ignore[union-attr]
    [wait] = service.decide(name, holder="decider")  # the new step has no figures yet
    assert wait.action == "wait" and "samples" in wait.reason
    _traffic(service, name, clock.now)
    clock.advance(61)
    [promote] = service.decide(name, holder="decider")
    assert promote.action == "promote"
    after = service.get(name)
    assert after.strategy == "blue_green"
    assert [(t.version, t.role, t.weight) for t in after.targets] == [(2, "primary", 100), (1, "standby", 0)]
    record = next(a for a in _audit(service.db, name) if a[0] == "deployment.promote")[1]
    assert record["figures"]["challenger"]["requests"] == 300  # type: ignore[index]
    assert {c["name"]: c["status"] for c in record["checks"]} == {  # type: ignore[attr-defined]
        "error_rate": "pass",
        "latency_p99_ratio": "pass",
        "agreement": "pass",
    }
    assert [d.action for d in service.decisions(name)] == ["promote", "advance"]


@pytest.mark.parametrize(
    ("bad", "failed"),
    [
        ({"errors": 30}, "error_rate"),
        ({"latency_ms": 80.0}, "latency_p99_ratio"),
        ({"agreed": 0.7}, "agreement"),
    ],
    ids=["errors", "slow", "disagreeing"],
)
def test_a_bad_challenger_is_rolled_back_with_its_figures(
    service: DeploymentService, clock: Clock, name: str, bad: dict[str, object], failed: str
) -> None:
    _canary(service, name)
    _traffic(service, name, clock.now, **bad)
    clock.advance(5)  # a failing check does not wait for the step to end
    [decision] = service.decide(name, holder="decider")
    assert decision.action == "rollback" and failed in decision.reason
    after = service.get(name)
    assert after.strategy == "single" and [(t.version, t.weight) for t in after.targets] == [(1, 100)]
    [(_action, record)] = [a for a in _audit(service.db, name) if a[0] == "deployment.rollback"]
    checks = {c["name"]: c for c in record["checks"]}  # type: ignore[attr-defined]
    assert checks[failed]["status"] == "fail" and checks[failed]["samples"] == 300
    assert record["figures"]["primary"]["requests"] == 300  # type: ignore[index]
    assert record["reason"] == decision.reason


def test_no_traffic_is_not_a_pass(service: DeploymentService, clock: Clock, name: str) -> None:
    _canary(service, name)
    _traffic(service, name, clock.now, requests=20)  # below min_requests
    clock.advance(120)
    [decision] = service.decide(name, holder="decider")
    assert decision.action == "wait" and service.get(name).role("challenger") is not None
    clock.advance(600)
    [decision] = service.decide(name, holder="decider")
    assert decision.action == "rollback" and "no traffic is not a pass" in decision.reason


def test_label_metrics_count_once_known(
    database: Database, catalog: MemoryCatalog, clock: Clock, name: str
) -> None:
    from shipyard.serving.canary import LabelFigure

    class Labels:
        def metric(self, deployment: str, model: str, version: int, since: int) -> LabelFigure | None:
            return LabelFigure(0.90 if version == 1 else 0.80, 500)

    service = DeploymentService(database, catalog, clock=clock, labels=Labels())
    service.decider.release_lease("decider")
    _canary(service, name, CanaryPolicy(steps=(10, 50), min_requests=100, max_metric_drop=0.02))
    _traffic(service, name, clock.now)
    [decision] = service.decide(name, holder="decider")
    assert decision.action == "rollback" and "label_metric_drop" in decision.reason


def test_a_paused_canary_is_left_alone(service: DeploymentService, clock: Clock, name: str) -> None:
    _canary(service, name)
    service.pause(name, actor="dana")
    _traffic(service, name, clock.now, errors=300)
    assert service.decide(name, holder="decider") == []
    assert service.get(name).role("challenger") is not None


def test_two_deciders_at_once_make_one_decision(service: DeploymentService, clock: Clock, name: str) -> None:
    _canary(service, name)
    _traffic(service, name, clock.now, errors=100)
    barrier = threading.Barrier(2)
    results: dict[str, list[object]] = {}

    def run(holder: str) -> None:
        barrier.wait()
        results[holder] = list(service.decide(name, holder=holder))

    threads = [threading.Thread(target=run, args=(h,)) for h in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(r) for r in results.values()) == [0, 1]  # the lease let one of them act
    assert [d.action for d in service.decisions(name)] == ["rollback"]
    assert [a for a, _ in _audit(service.db, name)].count("deployment.rollback") == 1


def test_a_stale_decision_is_refused(service: DeploymentService, clock: Clock, name: str) -> None:
    _canary(service, name)
    _traffic(service, name, clock.now, errors=100)
    stale = service.get(name)
    decision = service.decider.analyse(stale)
    service.pause(name, actor="dana")  # the deployment changes after the figures were read
    with pytest.raises(Conflict, match="changed since the decision"):
        service.decider.apply(name, stale.revision, decision, actor="decider")
    assert service.decisions(name) == []


def test_the_lease_passes_on_only_when_it_expires(service: DeploymentService, clock: Clock) -> None:
    assert service.decider.acquire_lease("a", ttl_seconds=30)
    assert not service.decider.acquire_lease("b", ttl_seconds=30)
    assert service.decider.acquire_lease("a", ttl_seconds=30)  # renewing
    clock.advance(31)
    assert service.decider.acquire_lease("b", ttl_seconds=30)


def test_promotion_points_the_configured_alias(
    service: DeploymentService, catalog: MemoryCatalog, name: str
) -> None:
    _canary(service, name, CanaryPolicy(promote_alias="champion"))
    service.promote(name, actor="dana")
    assert catalog.aliases[("churn", "champion")] == 2


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "field", "message"),
    [
        ({"model": "nope@1"}, NotFound, "model", "model 'nope' does not exist"),
        ({"model": "churn@9"}, NotFound, "model", "no version 9"),
        ({"model": "churn@gold"}, NotFound, "model", "no alias 'gold'"),
        ({"model": "churn"}, InvalidInput, "model", "MODEL@ALIAS"),
        ({"model": "churn@1", "strategy": "rainbow"}, InvalidInput, "strategy", "unknown strategy"),
        (
            {"model": "churn@1", "strategy": "canary"},
            InvalidInput,
            "challenger",
            "a canary needs a challenger",
        ),
        ({"model": "churn@1", "strategy": "shadow"}, InvalidInput, "shadow", "needs a shadow target"),
        (
            {"model": "churn@1", "strategy": "canary", "challenger": "churn@champion"},
            InvalidInput,
            "targets",
            "twice",
        ),
        (
            {
                "strategy": "canary",
                "targets": [TargetSpec("churn@1", "primary", 70), TargetSpec("churn@2", "challenger", 20)],
            },
            InvalidInput,
            "targets",
            "weights must sum to 100, got 90",
        ),
        (
            {"model": "churn@1", "challenger": "churn@2", "strategy": "canary", "weight": 101},
            InvalidInput,
            "targets[1].weight",
            "0 to 100",
        ),
        (
            {"model": "churn@1", "strategy": "single", "challenger": "churn@2"},
            InvalidInput,
            "targets[1].role",
            "not 'challenger'",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    service: DeploymentService,
    name: str,
    kwargs: dict[str, object],
    error: type[Exception],
    field: str,
    message: str,
) -> None:
    with pytest.raises(error, match=message) as raised:
        service.deploy(name, actor="dana", **kwargs)  # type: ignore[arg-type]
    assert raised.value.field == field  # type: ignore[attr-defined]
    with pytest.raises(NotFound):
        service.get(name)  # nothing half-written


def test_create_and_update_are_explicit_when_asked(service: DeploymentService, name: str) -> None:
    with pytest.raises(NotFound):
        service.deploy(name, "churn@1", create=False, actor="dana")
    service.deploy(name, "churn@1", create=True, actor="dana")
    with pytest.raises(AlreadyExists):
        service.deploy(name, "churn@1", create=True, actor="dana")
    with pytest.raises(Conflict, match="no standby or challenger"):
        service.rollback(name, actor="dana")
    with pytest.raises(Conflict, match="no challenger or shadow to promote"):
        service.promote(name, actor="dana")


def test_old_windows_are_pruned_and_decisions_keep_their_figures(
    service: DeploymentService, clock: Clock, name: str
) -> None:
    _canary(service, name)
    _traffic(service, name, clock.now, errors=100)
    [decision] = service.decide(name, holder="decider")
    clock.advance(8 * 86_400)
    _traffic(service, name, clock.now)
    assert service.prune_windows(older_than_seconds=7 * 86_400) >= 2
    assert [w.start for w in service.windows(name)] == [clock.now, clock.now]
    assert service.decisions(name)[0].figures == decision.figures
    with pytest.raises(InvalidInput, match="at least an hour"):
        service.prune_windows(older_than_seconds=60)


def test_concurrent_changes_queue_instead_of_failing(service: DeploymentService, name: str) -> None:
    """Eight threads create the same deployment and switch it: one creates, the rest change it;
    every change has its own revision."""
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def run(version: int) -> None:
        barrier.wait()
        try:
            service.deploy(name, f"churn@{version}", strategy="blue_green", actor="dana")
            service.rollback(name, actor="dana")
        except BaseException as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(1 + i % 3,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [type(e).__name__ for e in errors if not isinstance(e, Conflict)] == []
    actions = [a for a, _ in _audit(service.db, name)]
    assert actions.count("deployment.create") == 1 and actions.count("deployment.update") == 7
    revisions = [r.after["revision"] for r in AuditService(service.db).list(object_id=name)]  # type: ignore[index]
    assert len(set(revisions)) == len(revisions)


def test_changes_and_decisions_are_published_as_events(
    service: DeploymentService, clock: Clock, name: str
) -> None:
    from shipyard.events.service import EventLog

    _canary(service, name)
    _traffic(service, name, clock.now, errors=100)
    service.decide(name, holder="decider")
    service.deploy(name, "churn@1", strategy="shadow", shadow="churn@3", actor="dana")
    service.promote(name, actor="dana")
    found = EventLog(service.db).list(types=["deployment.*"], where={"deployment": name})
    assert [(e.type, e.actor) for e in found] == [
        ("deployment.changed", "dana"),
        ("deployment.rolled_back", "canary-decider"),
        ("deployment.changed", "dana"),
        ("deployment.promoted", "dana"),
    ]
    assert found[1].payload == {
        "deployment": name,
        "revision": found[1].payload["revision"],
        "model": "churn",
        "version": 1,
        "reason": "check failed: error_rate",
        "automatic": True,
    }
    assert found[3].payload["version"] == 3 and found[3].payload["previous"] == 1
    assert found[0].payload["change"] == "create" and found[2].payload["change"] == "update"
