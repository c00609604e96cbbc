"""Deployment use cases: deploy, list, pause, resume, promote, roll back, delete; the live figures
replicas report; the canary decider. One transaction per call; every change appends an audit
record (with the figures of a decision) in that transaction.

The service is also what prediction servers follow (:class:`~shipyard.serving.ports.DeploymentSource`:
:meth:`revision` is one primary-key read, so polling it every few hundred milliseconds is how a
replica notices a change within 2 s) and where they report (:class:`~shipyard.serving.ports.WindowSink`).

Exactly one canary decider acts at a time: a round first takes (or renews) the ``canary`` lease row,
and each change it makes is a compare-and-set on the deployment's revision, so a decision computed
from a deployment that changed meanwhile is refused (:class:`~shipyard.errors.Conflict`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection, and_, delete, or_, select, update

from shipyard.audit import log as audit
from shipyard.core.clock import now_ms
from shipyard.core.ids import new_id
from shipyard.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from shipyard.serving import canary, records, strategies
from shipyard.serving.canary import Decision, LabelMetrics, NoLabels
from shipyard.serving.events import DeploymentChanged, DeploymentPromoted, DeploymentRolledBack
from shipyard.serving.model import CanaryPolicy, Deployment, Status, Strategy, Target, VersionWindow
from shipyard.serving.ports import ModelCatalog
from shipyard.serving.records import DecisionRecord, deployments_t, windows_t
from shipyard.serving.strategies import TargetSpec
from shipyard.serving.validation import check_policy, check_windows
from shipyard.storage.metadata.database import Database
from shipyard.storage.metadata.upsert import insert_ignore

Event = DeploymentChanged | DeploymentPromoted | DeploymentRolledBack
LEASE = "canary"
DECIDER = "canary-decider"


class DeploymentService:
    def __init__(
        self,
        db: Database,
        catalog: ModelCatalog,
        *,
        labels: LabelMetrics | None = None,
        clock: Callable[[], int] = now_ms,
        publish: Callable[[Connection, Event, str], None] | None = None,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.labels = labels if labels is not None else NoLabels()
        self.clock = clock
        self._publish = publish

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
            self._emit(conn, DeploymentChanged(name, revision, change, kind), actor)
            audit.append(
                conn,
                actor=actor,
                action=f"deployment.{change}",
                object_type="deployment",
                object_id=name,
                before=None if previous is None else _summary(previous),
                after=_summary(after),
            )
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
            after = self._change(
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
            after = self._promote(conn, current, actor, reason, None, automatic=False)
        self._point_alias(current, after, actor)
        return after

    def rollback(self, name: str, *, actor: str, reason: str = "rolled back by hand") -> Deployment:
        """Drop a canary's challenger or a shadow; switch a blue-green deployment back to its standby."""
        with self.db.write() as conn:
            current = records.to_deployment(records.deployment_row(conn, name, lock=True))
            return self._rollback(conn, current, actor, reason, None, automatic=False)

    def delete(self, name: str, *, actor: str) -> None:
        with self.db.write() as conn:
            current = records.to_deployment(records.deployment_row(conn, name, lock=True))
            revision = records.next_revision(conn)
            conn.execute(
                update(deployments_t)
                .where(deployments_t.c.name == name)
                .values(deleted=True, revision=revision, updated_at=self.clock())
            )
            self._emit(conn, DeploymentChanged(name, revision, "delete", current.strategy), actor)
            audit.append(
                conn,
                actor=actor,
                action="deployment.delete",
                object_type="deployment",
                object_id=name,
                before=_summary(current),
                after=None,
            )

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
    def acquire_lease(self, holder: str, *, ttl_seconds: float = 30.0) -> bool:
        """Take or renew the decider's lease; False while another holder's lease runs."""
        now = self.clock()
        expires = now + int(ttl_seconds * 1000)
        t = records.leases_t
        with self.db.write() as conn:
            if insert_ignore(conn, t, [{"name": LEASE, "holder": holder, "expires_at": expires}]):
                return True
            taken = conn.execute(
                update(t)
                .where(and_(t.c.name == LEASE, or_(t.c.holder == holder, t.c.expires_at < now)))
                .values(holder=holder, expires_at=expires)
            ).rowcount
            return bool(taken)

    def release_lease(self, holder: str) -> None:
        t = records.leases_t
        with self.db.write() as conn:
            conn.execute(delete(t).where(t.c.name == LEASE, t.c.holder == holder))

    def decide(
        self,
        name: str | None = None,
        *,
        holder: str,
        actor: str = DECIDER,
        keep_lease: bool = False,
        lease_seconds: float = 30.0,
    ) -> list[DecisionRecord]:
        """One round of canary analysis over every active canary (or ``name``), if ``holder`` gets
        the lease; the decisions taken (waits included, though only actions are stored). A loop
        passes ``keep_lease`` and rounds more often than ``lease_seconds``; a single round gives
        the lease back at its end."""
        if not self.acquire_lease(holder, ttl_seconds=lease_seconds):
            return []
        try:
            found = [d for d in self.list_deployments() if d.strategy == "canary" and d.status == "active"]
            if name is not None:
                found = [d for d in found if d.name == name]
            out = []
            for deployment in found:
                decision = self.analyse(deployment)
                if decision.action == "wait":
                    out.append(_record(deployment, decision, deployment.revision, actor, self.clock()))
                    continue
                try:
                    out.append(self.apply(deployment.name, deployment.revision, decision, actor=actor))
                except Conflict:
                    continue  # changed meanwhile: the next round decides on the new state
            return out
        finally:
            if not keep_lease:
                self.release_lease(holder)

    def analyse(self, deployment: Deployment) -> Decision:
        """The decision the canary's figures since its step began call for (nothing is written)."""
        primary, challenger = deployment.role("primary"), deployment.role("challenger")
        if (
            deployment.strategy != "canary"
            or primary is None
            or challenger is None
            or deployment.canary is None
        ):
            raise Conflict(f"deployment {deployment.name!r} is not a canary", field="deployment")
        with self.db.read() as conn:
            state = records.deployment_row(conn, deployment.name).canary_state or {}
        started = int(state.get("step_started_at", deployment.updated_at))
        windows = self.windows(deployment.name, since=started)
        figures = [
            canary.summed(w for w in windows if (w.model, w.version) == (t.model, t.version))
            for t in (primary, challenger)
        ]
        labels = (
            self.labels.metric(deployment.name, primary.model, primary.version, started),
            self.labels.metric(deployment.name, challenger.model, challenger.version, started),
        )
        now = self.clock()
        return canary.decide(
            deployment.canary, challenger.weight, started, now, figures[0], figures[1], labels
        )

    def apply(self, name: str, revision: int, decision: Decision, *, actor: str) -> DecisionRecord:
        """Carry out ``decision`` if the deployment is still at ``revision``; Conflict otherwise."""
        with self.db.write() as conn:
            row = records.deployment_row(conn, name, lock=True)
            if row.revision != revision:
                raise Conflict(
                    f"deployment {name!r} changed since the decision (revision {revision} -> {row.revision})",
                    field="revision",
                )
            current = records.to_deployment(row)
            if decision.action == "promote":
                after = self._promote(conn, current, actor, decision.reason, decision, automatic=True)
            elif decision.action == "rollback":
                after = self._rollback(conn, current, actor, decision.reason, decision, automatic=True)
            elif decision.action == "advance":
                after = self._change(
                    conn,
                    current,
                    actor,
                    change="advance",
                    targets=strategies.advanced(current, decision.weight),
                    canary_state={"step_started_at": self.clock()},
                    decision=decision,
                )
            else:
                raise InvalidInput(f"nothing to apply for a {decision.action!r} decision", field="action")
            stored = conn.execute(
                select(records.decisions_t).where(records.decisions_t.c.revision == after.revision)
            ).one()
        if decision.action == "promote":
            self._point_alias(current, after, actor)
        return records.to_decision(stored)

    # -- helpers (inside the caller's transaction) ----------------------------------------------
    def _change(
        self,
        conn: Connection,
        current: Deployment,
        actor: str,
        *,
        change: str,
        strategy: Strategy | None = None,
        targets: tuple[Target, ...] | None = None,
        status: Status | None = None,
        canary_state: dict[str, int] | None = None,
        decision: Decision | None = None,
        action: str | None = None,
        reason: str = "",
    ) -> Deployment:
        revision = records.next_revision(conn)
        kind = strategy or current.strategy
        values: dict[str, object] = {"revision": revision, "updated_at": self.clock(), "strategy": kind}
        if targets is not None:
            values["targets"] = records.targets_json(targets)
        if status is not None:
            values["status"] = status
        values["canary_state"] = canary_state if kind == "canary" else None
        if kind != "canary":
            values["canary"] = None
        conn.execute(update(deployments_t).where(deployments_t.c.name == current.name).values(**values))
        after = records.to_deployment(records.deployment_row(conn, current.name))
        figures: dict[str, object] = {}
        checks: list[dict[str, object]] = []
        if decision is not None:
            figures = {"primary": decision.primary.to_dict(), "challenger": decision.challenger.to_dict()}
            checks = [c.to_dict() for c in decision.checks]
            reason = reason or decision.reason
        if decision is not None or action is not None:
            challenger = after.role("challenger")
            conn.execute(
                records.decisions_t.insert().values(
                    id=new_id(),
                    deployment=current.name,
                    at=self.clock(),
                    action=action or change,
                    revision=revision,
                    weight=challenger.weight if challenger else 0,
                    reason=reason[:1000],
                    checks=checks,
                    figures=figures,
                    actor=actor,
                )
            )
        if change not in ("promote", "rollback"):
            self._emit(conn, DeploymentChanged(current.name, revision, change, kind), actor)
        audit.append(
            conn,
            actor=actor,
            action=f"deployment.{change}",
            object_type="deployment",
            object_id=current.name,
            before=_summary(current),
            after={
                **_summary(after),
                **({"reason": reason} if reason else {}),
                **({"checks": checks, "figures": figures} if decision is not None else {}),
            },
        )
        return after

    def _promote(
        self,
        conn: Connection,
        current: Deployment,
        actor: str,
        reason: str,
        decision: Decision | None,
        *,
        automatic: bool,
    ) -> Deployment:
        kind, targets = strategies.promoted(current)
        old = current.role("primary")
        after = self._change(
            conn,
            current,
            actor,
            change="promote",
            strategy=kind,
            targets=targets,
            decision=decision,
            action="promote",
            reason=reason,
        )
        new = targets[0]
        self._emit(
            conn,
            DeploymentPromoted(
                current.name, after.revision, new.model, new.version, old.version if old else None, automatic
            ),
            actor,
        )
        return after

    def _point_alias(self, before: Deployment, after: Deployment, actor: str) -> None:
        """After a promotion commits: point the canary policy's ``promote_alias`` at the new
        primary (the registry writes its own transaction and audit record)."""
        alias = before.canary.promote_alias if before.canary else None
        primary = after.role("primary")
        if alias is not None and primary is not None:
            self.catalog.set_alias(primary.model, alias, primary.version, actor=actor)

    def _rollback(
        self,
        conn: Connection,
        current: Deployment,
        actor: str,
        reason: str,
        decision: Decision | None,
        *,
        automatic: bool,
    ) -> Deployment:
        kind, targets = strategies.rolled_back(current)
        after = self._change(
            conn,
            current,
            actor,
            change="rollback",
            strategy=kind,
            targets=targets,
            decision=decision,
            action="rollback",
            reason=reason,
        )
        primary = targets[0]
        self._emit(
            conn,
            DeploymentRolledBack(
                current.name, after.revision, primary.model, primary.version, reason, automatic
            ),
            actor,
        )
        return after

    def _emit(self, conn: Connection, event: Event, actor: str) -> None:
        if self._publish is not None:
            self._publish(conn, event, actor)


def _summary(d: Deployment) -> dict[str, object]:
    return {
        "strategy": d.strategy,
        "status": d.status,
        "public": d.public,
        "revision": d.revision,
        "targets": [
            {"model": t.model, "version": t.version, "role": t.role, "weight": t.weight, "alias": t.alias}
            for t in d.targets
        ],
    }


def _record(d: Deployment, decision: Decision, revision: int, actor: str, at: int) -> DecisionRecord:
    return DecisionRecord(
        id="",
        deployment=d.name,
        at=at,
        action=decision.action,
        revision=revision,
        weight=decision.weight,
        reason=decision.reason,
        checks=decision.checks,
        figures={"primary": decision.primary.to_dict(), "challenger": decision.challenger.to_dict()},
        actor=actor,
    )


__all__ = ["DeploymentService"]
