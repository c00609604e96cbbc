"""Deployment use cases: deploy, list, pause, resume, promote, roll back, delete; the live figures
replicas report. One transaction per call; every change appends an audit
record (with the figures of a decision) in that transaction.

The service is also what prediction servers follow (:class:`~shipyard.serving.ports.DeploymentSource`:
:meth:`revision` is one primary-key read, so polling it every few hundred milliseconds is how a
replica notices a change within 2 s) and where they report (:class:`~shipyard.serving.ports.WindowSink`).
The canary decider is :mod:`.decider`'s (:meth:`decide` runs one round).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

from sqlalchemy import delete, select, update

from shipyard.audit import log as audit
from shipyard.core.clock import now_ms
from shipyard.core.ids import new_id
from shipyard.errors import AlreadyExists, InvalidInput, NotFound
from shipyard.serving import records, strategies
from shipyard.serving.canary import LabelMetrics, NoLabels
from shipyard.serving.changes import Changes, point_alias, summary
from shipyard.serving.decider import DECIDER, CanaryDecider
from shipyard.serving.events import DeploymentChanged
from shipyard.serving.model import CanaryPolicy, Deployment, Status, Target, VersionWindow
from shipyard.serving.ports import ModelCatalog
from shipyard.serving.records import DecisionRecord, deployments_t, windows_t
from shipyard.serving.strategies import TargetSpec
from shipyard.serving.validation import check_policy, check_windows
from shipyard.storage.metadata.database import Database


class DeploymentService:
    def __init__(
        self,
        db: Database,
        catalog: ModelCatalog,
        *,
        labels: LabelMetrics | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.labels = labels if labels is not None else NoLabels()
        self.clock = clock
        self.changes = Changes(clock)

    # -- what prediction servers follow -------------------------------------------------------------
    def revision(self) -> int:
        with self.db.read() as conn:
            value = conn.execute(
                select(records.head_t.c.revision).where(records.head_t.c.id == records.HEAD_ID)
            ).scalar()
            return int(value or 0)

    def active(self) -> list[Deployment]:
        return self.list_deployments()

    def get(self, name: str) -> Deployment:
        with self.db.read() as conn:
            return records.to_deployment(records.deployment_row(conn, strategies.deployment_name(name)))

    def list_deployments(self, *, model: str | None = None) -> list[Deployment]:
        query = select(deployments_t).where(deployments_t.c.deleted.is_(False))
        if model is not None:
            query = query.where(deployments_t.c.model == model)
        with self.db.read() as conn:
            return [records.to_deployment(r) for r in conn.execute(query.order_by(deployments_t.c.name))]

    # -- changes --------------------------------------------------------------------------------
    def deploy(
        self,
        name: str,
        model: str | None = None,
        *,
        strategy: str = "single",
        challenger: str | None = None,
        shadow: str | None = None,
        weight: int | None = None,
        targets: Sequence[TargetSpec] | None = None,
        canary: CanaryPolicy | None = None,
        public: bool = False,
        feature_service: str | None = None,
        create: bool | None = None,
        actor: str,
    ) -> Deployment:
        """Create or change deployment ``name``. Name the primary as ``model`` (``churn@champion``)
        plus a ``challenger`` or ``shadow``, or give every target in ``targets``. ``create`` True
        refuses an existing deployment, False a missing one, None takes either."""
        name = strategies.deployment_name(name)
        kind = strategies.strategy_of(strategy)
        if targets is None:
            if model is None:
                raise InvalidInput("name the primary version (MODEL@REF) or give targets", field="model")
            specs = strategies.plan(kind, model, challenger=challenger, shadow=shadow, weight=weight)
        else:
            if model is not None or challenger is not None or shadow is not None or weight is not None:
                raise InvalidInput("give either targets or model/challenger/shadow/weight", field="targets")
            specs = list(targets)
        policy = check_policy(canary if canary is not None else CanaryPolicy()) if kind == "canary" else None
        if canary is not None and kind != "canary":
            raise InvalidInput(f"a canary policy needs strategy canary, not {kind}", field="canary")
        if feature_service is not None and (
            not isinstance(feature_service, str) or not 0 < len(feature_service) <= 250
        ):
            raise InvalidInput("feature_service must be 1-250 characters", field="feature_service")
        weights = strategies.weigh(kind, specs, policy)
        resolved = [self._resolve(spec, w, i) for i, (spec, w) in enumerate(zip(specs, weights, strict=True))]
        strategies.check_distinct(resolved)
        primary = resolved[[t.role for t in resolved].index("primary")]
        now = self.clock()
        with self.db.write() as conn:
            records.lock_head(conn)
            row = conn.execute(
                select(deployments_t).where(deployments_t.c.name == name).with_for_update()
            ).first()
            live = row is not None and not row.deleted
            if create is True and live:
                raise AlreadyExists(f"deployment {name!r} exists; change it with update", field="name")
            if create is False and not live:
                raise NotFound(f"deployment {name!r} does not exist", field="deployment")
            previous = records.to_deployment(row) if live else None
            ordered = [primary, *(t for t in resolved if t is not primary)]
            final = strategies.carry_standby(previous, kind, ordered)
            strategies.check_distinct(final)
            revision = records.next_revision(conn)
            values = {
                "model": primary.model,
                "strategy": kind,
                "status": "active",
                "public": bool(public),
                "targets": records.targets_json(final),
                "canary": records.policy_dict(policy),
                "canary_state": {"step_started_at": now} if kind == "canary" else None,
                "feature_service": feature_service,
                "revision": revision,
                "deleted": False,
                "updated_at": now,
            }
            if row is None:
                conn.execute(
                    deployments_t.insert().values(
                        id=new_id(), name=name, created_by=actor, created_at=now, **values
                    )
                )
            else:
                created = {} if live else {"created_by": actor, "created_at": now}
                conn.execute(
                    update(deployments_t).where(deployments_t.c.id == row.id).values(**values, **created)
                )
            after = records.to_deployment(records.deployment_row(conn, name))
            change = "update" if previous is not None else "create"
            audit.append(
                conn,
                actor=actor,
                action=f"deployment.{change}",
                object_type="deployment",
                object_id=name,
                before=None if previous is None else summary(previous),
                after=summary(after),
            )
            self.changes.emit(conn, DeploymentChanged(name, revision, change, kind), actor)
            return after

    def _resolve(self, spec: TargetSpec, weight: int, index: int) -> Target:
        field = {"primary": "model", "challenger": "challenger", "shadow": "shadow"}.get(
            spec.role, f"targets[{index}]"
        )
        model, ref = strategies.parse_ref(spec.ref, field=field)
        try:
            version = self.catalog.resolve(model, ref)
        except NotFound as exc:
            raise NotFound(f"{field} {spec.ref}: {exc.message}", field=field) from None
        except InvalidInput as exc:
            raise InvalidInput(f"{field} {spec.ref}: {exc.message}", field=field) from None
        return Target(model, version, spec.role, weight, alias=None if ref.isdigit() else ref)

    def set_status(self, name: str, status: Status, *, actor: str) -> Deployment:
        """Pause (the traffic split is frozen and the canary decider leaves it alone) or resume."""
        if status not in ("active", "paused"):
            raise InvalidInput(f"status must be active or paused, got {status!r}", field="status")
        with self.db.write() as conn:
            current = records.to_deployment(records.deployment_row(conn, name, lock=True))
            if current.status == status:
                return current
            state = {"step_started_at": self.clock()} if current.strategy == "canary" else None
            after = self.changes.change(
                conn,
                current,
                actor,
                change="pause" if status == "paused" else "resume",
                status=status,
                canary_state=state,
            )
            return after

    def pause(self, name: str, *, actor: str) -> Deployment:
        return self.set_status(name, "paused", actor=actor)

    def resume(self, name: str, *, actor: str) -> Deployment:
        return self.set_status(name, "active", actor=actor)

    def promote(self, name: str, *, actor: str, reason: str = "promoted by hand") -> Deployment:
        with self.db.write() as conn:
            current = records.to_deployment(records.deployment_row(conn, name, lock=True))
            after = self.changes.promote(conn, current, actor, reason, None, automatic=False)
        point_alias(self.catalog, current, after, actor)
        return after

    def rollback(self, name: str, *, actor: str, reason: str = "rolled back by hand") -> Deployment:
        """Drop a canary's challenger or a shadow; switch a blue-green deployment back to its standby."""
        with self.db.write() as conn:
            current = records.to_deployment(records.deployment_row(conn, name, lock=True))
            return self.changes.rollback(conn, current, actor, reason, None, automatic=False)

    def delete(self, name: str, *, actor: str) -> None:
        with self.db.write() as conn:
            current = records.to_deployment(records.deployment_row(conn, name, lock=True))
            revision = records.next_revision(conn)
            conn.execute(
                update(deployments_t)
                .where(deployments_t.c.name == name)
                .values(deleted=True, revision=revision, updated_at=self.clock())
            )
            audit.append(
                conn,
                actor=actor,
                action="deployment.delete",
                object_type="deployment",
                object_id=name,
                before=summary(current),
                after=None,
            )
            self.changes.emit(conn, DeploymentChanged(name, revision, "delete", current.strategy), actor)

    # -- live figures ---------------------------------------------------------------------------
    def record(self, windows: Sequence[VersionWindow]) -> None:
        """Store what replicas saw per version (see :class:`~shipyard.serving.model.VersionWindow`)."""
        rows = check_windows(windows)
        if rows:
            with self.db.write() as conn:
                conn.execute(windows_t.insert(), rows)

    def windows(self, name: str, *, since: int = 0, limit: int = 10_000) -> list[VersionWindow]:
        query = (
            select(windows_t)
            .where(windows_t.c.deployment == name, windows_t.c.start >= since)
            .order_by(windows_t.c.start, windows_t.c.id)
            .limit(limit)
        )
        with self.db.read() as conn:
            return [records.to_window(r) for r in conn.execute(query)]

    def prune_windows(self, *, older_than_seconds: float = 7 * 86_400) -> int:
        """Delete windows that ended more than ``older_than_seconds`` ago; how many went. Decisions
        keep the figures they rested on, so pruning loses no evidence."""
        if older_than_seconds < 3600:
            raise InvalidInput("keep at least an hour of windows", field="older_than_seconds")
        cutoff = self.clock() - int(older_than_seconds * 1000)
        with self.db.write() as conn:
            return int(conn.execute(delete(windows_t).where(windows_t.c.end < cutoff)).rowcount)

    def decisions(self, name: str, *, limit: int = 100) -> list[DecisionRecord]:
        """The deployment's decisions, newest first."""
        query = (
            select(records.decisions_t)
            .where(records.decisions_t.c.deployment == name)
            .order_by(records.decisions_t.c.at.desc(), records.decisions_t.c.revision.desc())
            .limit(limit)
        )
        with self.db.read() as conn:
            return [records.to_decision(r) for r in conn.execute(query)]

    # -- the canary decider ---------------------------------------------------------------------
    @cached_property
    def decider(self) -> CanaryDecider:
        return CanaryDecider(self)

    def decide(
        self,
        name: str | None = None,
        *,
        holder: str,
        actor: str = DECIDER,
        keep_lease: bool = False,
        lease_seconds: float = 30.0,
    ) -> list[DecisionRecord]:
        """One round of canary analysis (see :meth:`CanaryDecider.decide`)."""
        return self.decider.decide(
            name, holder=holder, actor=actor, keep_lease=keep_lease, lease_seconds=lease_seconds
        )


__all__ = ["DeploymentService"]
