"""Gate policies applied to lifecycle moves: which stored evaluation and approval a move into a
gated stage needs, who the champion is, and storing an evaluation. Functions run inside the
caller's transaction; the measurements themselves are :mod:`.gates`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from shipyard.audit import log as audit
from shipyard.core.clock import now_ms
from shipyard.core.ids import new_id
from shipyard.errors import Conflict, PermissionDenied
from shipyard.registry import approvals, gates, lifecycle, records
from shipyard.registry.entities import GatePolicy, GateReport, GateResult, Stage
from shipyard.registry.records import gates_t, versions_t


def policy_of(model: Any) -> GatePolicy | None:
    return None if model.gate_policy is None else GatePolicy.from_dict(model.gate_policy)


def enforce(conn: Connection, model: Any, version: Any, target: Stage) -> None:
    """Refuse the move unless the policy covering ``target`` is satisfied: the latest evaluation
    under the current policy passed (Conflict naming the failed gates) and, if required, a request
    was approved (PermissionDenied)."""
    policy = policy_of(model)
    if policy is None or target not in policy.stages:
        return
    ref = f"{model.name}/{version.version}"
    if policy.needs_evaluation:
        latest = conn.execute(
            select(gates_t)
            .where(
                gates_t.c.model_id == model.id,
                gates_t.c.version == version.version,
                gates_t.c.target_stage == target.value,
                gates_t.c.policy_digest == gates.policy_digest(policy),
            )
            .order_by(gates_t.c.created_at.desc(), gates_t.c.id.desc())
        ).first()
        if latest is None:
            raise Conflict(
                f"{ref} -> {target.value} needs a passing gate evaluation under the current policy; "
                f"evaluate first (`shipyard models gates {ref} --stage {target.value} --data FILE --label COLUMN`)",
                field="gates",
            )
        failures = [r for r in records.to_report(latest, model.name).failures() if r.name != "approval"]
        if failures:
            raise Conflict(gates.blocking_message(ref, target.value, failures), field="gates")
    if policy.require_approval:
        approver, pending = approvals.state(conn, model, version.version, target)
        if approver is None:
            why = f"request {pending} is pending" if pending else "no approval was requested"
            raise PermissionDenied(
                f"{ref} -> {target.value} needs approval by a reviewer other than the requester ({why})",
                field="approval",
            )


def champion_row(conn: Connection, model: Any, candidate: int) -> Any | None:
    """The version to beat: the ``champion`` alias, else the newest production version; None if
    that is the candidate itself or there is none."""
    number = records.aliases_of(conn, model.id).get(lifecycle.CHAMPION)
    if number is None:
        number = conn.execute(
            select(versions_t.c.version)
            .where(versions_t.c.model_id == model.id, versions_t.c.stage == Stage.PRODUCTION.value)
            .order_by(versions_t.c.updated_at.desc())
            .limit(1)
        ).scalar()
    if number is None or number == candidate:
        return None
    return records.version_row(conn, model, number)


def store_report(
    conn: Connection,
    model: Any,
    version: int,
    target: Stage,
    policy: GatePolicy,
    results: list[GateResult],
    *,
    dataset_digest: str,
    actor: str,
) -> GateReport:
    report_id = new_id()
    passed = all(r.passed for r in results)
    conn.execute(
        gates_t.insert(),
        {
            "id": report_id,
            "model_id": model.id,
            "version": version,
            "target_stage": target.value,
            "passed": passed,
            "results": [r.__dict__ for r in results],
            "dataset_digest": dataset_digest,
            "policy_digest": gates.policy_digest(policy),
            "actor": actor,
            "created_at": now_ms(),
        },
    )
    audit.append(
        conn,
        actor=actor,
        action="version.gates",
        object_type="model_version",
        object_id=f"{model.name}/{version}",
        after={"target_stage": target.value, "passed": passed, "dataset_digest": dataset_digest},
    )
    return records.to_report(conn.execute(select(gates_t).where(gates_t.c.id == report_id)).one(), model.name)
