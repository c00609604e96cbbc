"""Rows to entities, and the lookups every use case starts with (inside the caller's transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from shipyard.core.clock import to_datetime
from shipyard.errors import NotFound
from shipyard.registry.entities import (
    Approval,
    ApprovalStatus,
    GateReport,
    GateResult,
    ModelVersion,
    RegisteredModel,
    Stage,
    TrainingData,
    Transition,
)
from shipyard.registry.refs import ModelRef
from shipyard.registry.tables import (
    ApprovalRow,
    GateEvaluationRow,
    ModelAliasRow,
    ModelTransitionRow,
    ModelVersionRow,
    RegisteredModelRow,
)
from shipyard.storage.metadata.base import table

models_t = table(RegisteredModelRow)
versions_t = table(ModelVersionRow)
aliases_t = table(ModelAliasRow)
transitions_t = table(ModelTransitionRow)
approvals_t = table(ApprovalRow)
gates_t = table(GateEvaluationRow)

#: Stages a ``NAME@STAGE`` reference may name (the newest version in that stage).
STAGE_REFS = {Stage.STAGING.value, Stage.PRODUCTION.value}


def model_row(conn: Connection, name: str, *, lock: bool = False) -> Any:
    """The model's row; with ``lock`` it is locked until the transaction ends (``FOR UPDATE`` on
    PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serializes writers)."""
    query = select(models_t).where(models_t.c.name == name)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"model {name!r} does not exist", field="name")
    return row


def version_row(conn: Connection, model: Any, version: int) -> Any:
    row = conn.execute(
        select(versions_t).where(versions_t.c.model_id == model.id, versions_t.c.version == version)
    ).first()
    if row is None:
        raise NotFound(f"model {model.name!r} has no version {version}", field="version")
    return row


def resolve(conn: Connection, ref: ModelRef, *, lock: bool = False) -> tuple[Any, Any]:
    """The (model row, version row) ``ref`` names; NotFound naming the alias or stage otherwise."""
    model = model_row(conn, ref.name, lock=lock)
    if ref.version is not None:
        return model, version_row(conn, model, ref.version)
    alias = ref.alias or ""
    number = conn.execute(
        select(aliases_t.c.version).where(aliases_t.c.model_id == model.id, aliases_t.c.alias == alias)
    ).scalar()
    if number is not None:
        return model, version_row(conn, model, number)
    if alias in STAGE_REFS:
        row = conn.execute(
            select(versions_t)
            .where(versions_t.c.model_id == model.id, versions_t.c.stage == alias)
            .order_by(versions_t.c.version.desc())
            .limit(1)
        ).first()
        if row is None:
            raise NotFound(f"model {model.name!r} has no version in {alias}", field="alias")
        return model, row
    raise NotFound(f"model {model.name!r} has no alias {alias!r}", field="alias")


def aliases_of(conn: Connection, model_id: str) -> dict[str, int]:
    rows = conn.execute(
        select(aliases_t.c.alias, aliases_t.c.version)
        .where(aliases_t.c.model_id == model_id)
        .order_by(aliases_t.c.alias)
    )
    return {r.alias: r.version for r in rows}


def to_model(conn: Connection, row: Any) -> RegisteredModel:
    return to_models(conn, [row])[0]


def to_models(conn: Connection, rows: list[Any]) -> list[RegisteredModel]:
    """Models with their aliases and version summary, in three queries whatever their number."""
    ids = [r.id for r in rows]
    stages: dict[str, list[tuple[int, str]]] = {i: [] for i in ids}
    for v in conn.execute(
        select(versions_t.c.model_id, versions_t.c.version, versions_t.c.stage).where(
            versions_t.c.model_id.in_(ids)
        )
    ):
        stages[v.model_id].append((v.version, v.stage))
    aliases: dict[str, dict[str, int]] = {i: {} for i in ids}
    for a in conn.execute(select(aliases_t).where(aliases_t.c.model_id.in_(ids)).order_by(aliases_t.c.alias)):
        aliases[a.model_id][a.alias] = a.version
    return [
        RegisteredModel(
            name=row.name,
            description=row.description,
            allow_multiple_production=row.allow_multiple_production,
            created_at=to_datetime(row.created_at),
            updated_at=to_datetime(row.updated_at),
            tags=dict(row.tags or {}),
            aliases=aliases[row.id],
            latest_version=max((v for v, _ in stages[row.id]), default=None),
            production_versions=tuple(sorted(v for v, s in stages[row.id] if s == Stage.PRODUCTION)),
        )
        for row in rows
    ]


def to_version(row: Any, model_name: str, aliases: dict[str, int]) -> ModelVersion:
    training = (
        TrainingData(row.dataset_name or "", row.dataset_digest, row.dataset_location or "", row.dataset_rows)
        if row.dataset_digest
        else None
    )
    return ModelVersion(
        model=model_name,
        version=row.version,
        stage=Stage(row.stage),
        run_id=row.run_id,
        artifact_path=row.artifact_path,
        artifact_digest=row.artifact_digest,
        flavor=row.flavor,
        created_by=row.created_by,
        created_at=to_datetime(row.created_at),
        updated_at=to_datetime(row.updated_at),
        description=row.description,
        limitations=row.limitations,
        signature=dict(row.signature or {}),
        input_example=tuple(row.input_example or ()),
        training_data=training,
        feature_service=row.feature_service,
        code_version=row.code_version,
        metrics=dict(row.metrics or {}),
        params=dict(row.params or {}),
        tags=dict(row.tags or {}),
        aliases=tuple(sorted(a for a, v in aliases.items() if v == row.version)),
    )


def load_version(conn: Connection, model: Any, row: Any) -> ModelVersion:
    return to_version(row, model.name, aliases_of(conn, model.id))


def transitions(conn: Connection, model: Any, version: int | None = None) -> list[Transition]:
    query = select(transitions_t).where(transitions_t.c.model_id == model.id)
    if version is not None:
        query = query.where(transitions_t.c.version == version)
    rows = conn.execute(query.order_by(transitions_t.c.id))
    return [
        Transition(
            model.name,
            r.version,
            Stage(r.from_stage) if r.from_stage else None,
            Stage(r.to_stage),
            r.actor,
            r.comment,
            to_datetime(r.created_at),
        )
        for r in rows
    ]


def to_approval(row: Any, model_name: str) -> Approval:
    return Approval(
        id=row.id,
        model=model_name,
        version=row.version,
        target_stage=Stage(row.target_stage),
        requested_by=row.requested_by,
        requested_at=to_datetime(row.created_at),
        status=ApprovalStatus(row.status),
        comment=row.comment,
        decided_by=row.decided_by,
        decided_at=to_datetime(row.decided_at),
        decision_comment=row.decision_comment,
    )


def approvals(conn: Connection, model: Any, version: int | None = None) -> list[Approval]:
    query = select(approvals_t).where(approvals_t.c.model_id == model.id)
    if version is not None:
        query = query.where(approvals_t.c.version == version)
    return [to_approval(r, model.name) for r in conn.execute(query.order_by(approvals_t.c.created_at))]


def to_report(row: Any, model_name: str) -> GateReport:
    return GateReport(
        id=row.id,
        model=model_name,
        version=row.version,
        target_stage=Stage(row.target_stage),
        results=tuple(GateResult(**r) for r in row.results),
        actor=row.actor,
        at=to_datetime(row.created_at),
        dataset_digest=row.dataset_digest,
        policy_digest=row.policy_digest,
    )


def gate_reports(conn: Connection, model: Any, version: int | None = None) -> list[GateReport]:
    query = select(gates_t).where(gates_t.c.model_id == model.id)
    if version is not None:
        query = query.where(gates_t.c.version == version)
    return [to_report(r, model.name) for r in conn.execute(query.order_by(gates_t.c.id))]
