"""The canary decider: one round of analysis over the active canaries, and carrying out what it
decides. The reasoning is :mod:`.canary`'s; this module reads the figures and writes the changes.

Exactly one decider acts at a time, however many run: a round first takes (or renews) the
``canary`` lease row, and each change it makes is a compare-and-set on the deployment's revision,
so a decision computed from a deployment that changed meanwhile is refused
(:class:`~shipyard.errors.Conflict`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, or_, select, update

from shipyard.errors import Conflict, InvalidInput
from shipyard.serving import canary, records, strategies
from shipyard.serving.canary import Decision
from shipyard.serving.changes import point_alias, unstored
from shipyard.serving.model import Deployment
from shipyard.serving.records import DecisionRecord
from shipyard.storage.metadata.upsert import insert_ignore

if TYPE_CHECKING:
    from shipyard.serving.deployments import DeploymentService

LEASE = "canary"
DECIDER = "canary-decider"


class CanaryDecider:
    def __init__(self, service: DeploymentService) -> None:
        self.service = service

    def acquire_lease(self, holder: str, *, ttl_seconds: float = 30.0) -> bool:
        """Take or renew the decider's lease; False while another holder's lease runs."""
        now = self.service.clock()
        expires = now + int(ttl_seconds * 1000)
        t = records.leases_t
        with self.service.db.write() as conn:
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
        with self.service.db.write() as conn:
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
            found = [
                d for d in self.service.list_deployments() if d.strategy == "canary" and d.status == "active"
            ]
            if name is not None:
                found = [d for d in found if d.name == name]
            out = []
            for deployment in found:
                decision = self.analyse(deployment)
                if decision.action == "wait":
                    out.append(
                        unstored(deployment, decision, deployment.revision, actor, self.service.clock())
                    )
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
        with self.service.db.read() as conn:
            state = records.deployment_row(conn, deployment.name).canary_state or {}
        started = int(state.get("step_started_at", deployment.updated_at))
        windows = self.service.windows(deployment.name, since=started)
        figures = [
            canary.summed(w for w in windows if (w.model, w.version) == (t.model, t.version))
            for t in (primary, challenger)
        ]
        labels = (
            self.service.labels.metric(deployment.name, primary.model, primary.version, started),
            self.service.labels.metric(deployment.name, challenger.model, challenger.version, started),
        )
        now = self.service.clock()
        return canary.decide(
            deployment.canary, challenger.weight, started, now, figures[0], figures[1], labels
        )

    def apply(self, name: str, revision: int, decision: Decision, *, actor: str) -> DecisionRecord:
        """Carry out ``decision`` if the deployment is still at ``revision``; Conflict otherwise."""
        with self.service.db.write() as conn:
            row = records.deployment_row(conn, name, lock=True)
            if row.revision != revision:
                raise Conflict(
                    f"deployment {name!r} changed since the decision (revision {revision} -> {row.revision})",
                    field="revision",
                )
            current = records.to_deployment(row)
            if decision.action == "promote":
                after = self.service.changes.promote(
                    conn, current, actor, decision.reason, decision, automatic=True
                )
            elif decision.action == "rollback":
                after = self.service.changes.rollback(
                    conn, current, actor, decision.reason, decision, automatic=True
                )
            elif decision.action == "advance":
                after = self.service.changes.change(
                    conn,
                    current,
                    actor,
                    change="advance",
                    targets=strategies.advanced(current, decision.weight),
                    canary_state={"step_started_at": self.service.clock()},
                    decision=decision,
                )
            else:
                raise InvalidInput(f"nothing to apply for a {decision.action!r} decision", field="action")
            stored = conn.execute(
                select(records.decisions_t).where(records.decisions_t.c.revision == after.revision)
            ).one()
        if decision.action == "promote":
            point_alias(self.service.catalog, current, after, actor)
        return records.to_decision(stored)
