"""Registry rows. They never leave the domain: :mod:`.records` maps them to :mod:`.entities`.

Runs are referenced by id without a foreign key: the registry does not depend on the tracking
tables (it asks a :class:`~shipyard.registry.ports.RunLookup` about runs). Times are epoch ms.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.storage.metadata.base import Base

ID = String(32)
NAME = String(250)
DIGEST = String(71)
STAGE = String(20)
SERIAL = BigInteger().with_variant(Integer, "sqlite")


class RegisteredModelRow(Base):
    __tablename__ = "registered_models"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    allow_multiple_production: Mapped[bool] = mapped_column(default=False)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The promotion gate policy (``GatePolicy.to_dict()``), None when the model has none.
    gate_policy: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[int]
    updated_at: Mapped[int]


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    model_id: Mapped[str] = mapped_column(ID, ForeignKey("registered_models.id"))
    version: Mapped[int]
    stage: Mapped[str] = mapped_column(STAGE)
    run_id: Mapped[str] = mapped_column(ID, index=True)
    artifact_path: Mapped[str] = mapped_column(String(1000))
    artifact_digest: Mapped[str] = mapped_column(DIGEST, index=True)
    flavor: Mapped[str] = mapped_column(String(50))
    signature: Mapped[dict[str, Any]] = mapped_column(JSON)
    input_example: Mapped[list[Any]] = mapped_column(JSON)
    dataset_name: Mapped[str | None] = mapped_column(NAME)
    dataset_digest: Mapped[str | None] = mapped_column(DIGEST)
    dataset_location: Mapped[str | None] = mapped_column(Text)
    dataset_rows: Mapped[int | None]
    feature_service: Mapped[str | None] = mapped_column(NAME)
    code_version: Mapped[str | None] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    limitations: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[int]
    updated_at: Mapped[int]


class ModelAliasRow(Base):
    __tablename__ = "model_aliases"
    model_id: Mapped[str] = mapped_column(ID, ForeignKey("registered_models.id"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int]


class ModelTransitionRow(Base):
    __tablename__ = "model_transitions"
    __table_args__ = (Index("ix_model_transitions_model_version", "model_id", "version"),)
    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    model_id: Mapped[str] = mapped_column(ID, ForeignKey("registered_models.id"))
    version: Mapped[int]
    from_stage: Mapped[str | None] = mapped_column(STAGE)
    to_stage: Mapped[str] = mapped_column(STAGE)
    actor: Mapped[str] = mapped_column(NAME)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int]


class ApprovalRow(Base):
    __tablename__ = "model_approvals"
    __table_args__ = (Index("ix_model_approvals_model_version", "model_id", "version"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    model_id: Mapped[str] = mapped_column(ID, ForeignKey("registered_models.id"))
    version: Mapped[int]
    target_stage: Mapped[str] = mapped_column(STAGE)
    status: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[str] = mapped_column(NAME)
    comment: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(NAME)
    decision_comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int]
    decided_at: Mapped[int | None]


class GateEvaluationRow(Base):
    __tablename__ = "model_gate_evaluations"
    __table_args__ = (Index("ix_model_gate_evaluations_model_version", "model_id", "version"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    model_id: Mapped[str] = mapped_column(ID, ForeignKey("registered_models.id"))
    version: Mapped[int]
    target_stage: Mapped[str] = mapped_column(STAGE)
    passed: Mapped[bool]
    results: Mapped[list[Any]] = mapped_column(JSON)
    dataset_digest: Mapped[str | None] = mapped_column(DIGEST)
    #: Digest of the policy evaluated: a later policy change makes this evaluation stale.
    policy_digest: Mapped[str] = mapped_column(DIGEST)
    actor: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[int]
