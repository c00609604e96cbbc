"""The writes every deployment change shares, inside the caller's transaction: the next revision,
the row, the decision record (for promote, roll back and canary steps), the audit record with the
figures of a decision and, last, the event (``deployment.changed``, ``.promoted``, ``.rolled_back``)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, update

from shipyard.audit import log as audit
from shipyard.core.ids import new_id
from shipyard.events import log as event_log
from shipyard.serving import records, strategies
from shipyard.serving.canary import Decision
from shipyard.serving.events import DeploymentChanged, DeploymentPromoted, DeploymentRolledBack
from shipyard.serving.model import Deployment, Status, Strategy, Target
from shipyard.serving.ports import ModelCatalog
from shipyard.serving.records import DecisionRecord, deployments_t

Event = DeploymentChanged | DeploymentPromoted | DeploymentRolledBack


class Changes:
    def __init__(self, clock: Callable[[], int]) -> None:
        self.clock = clock

    def change(
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
        audit.append(
            conn,
            actor=actor,
            action=f"deployment.{change}",
            object_type="deployment",
            object_id=current.name,
            before=summary(current),
            after={
                **summary(after),
                **({"reason": reason} if reason else {}),
                **({"checks": checks, "figures": figures} if decision is not None else {}),
            },
        )
        if change not in ("promote", "rollback"):
            self.emit(conn, DeploymentChanged(current.name, revision, change, kind), actor)
        return after

    def promote(
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
        after = self.change(
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
        self.emit(
            conn,
            DeploymentPromoted(
                current.name, after.revision, new.model, new.version, old.version if old else None, automatic
            ),
            actor,
        )
        return after

    def rollback(
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
        after = self.change(
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
        self.emit(
            conn,
            DeploymentRolledBack(
                current.name, after.revision, primary.model, primary.version, reason, automatic
            ),
            actor,
        )
        return after

    def emit(self, conn: Connection, event: Event, actor: str) -> None:
        """Publish to the event log, after the audit append (see :mod:`shipyard.events.log`)."""
        event_log.publish(conn, event, actor=actor)


def summary(d: Deployment) -> dict[str, object]:
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


def unstored(d: Deployment, decision: Decision, revision: int, actor: str, at: int) -> DecisionRecord:
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


def point_alias(catalog: ModelCatalog, before: Deployment, after: Deployment, actor: str) -> None:
    """After a promotion commits: point the canary policy's ``promote_alias`` at the new
    primary (the registry writes its own transaction and audit record)."""
    alias = before.canary.promote_alias if before.canary else None
    primary = after.role("primary")
    if alias is not None and primary is not None:
        catalog.set_alias(primary.model, alias, primary.version, actor=actor)
