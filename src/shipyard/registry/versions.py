"""Creating models and versions inside the caller's write transaction: the rows, the first
lifecycle entry and the audit records."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, func, select

from shipyard.audit import log as audit
from shipyard.core.clock import now_ms
from shipyard.core.ids import new_id
from shipyard.packaging.package import PackageManifest
from shipyard.registry.entities import Stage
from shipyard.registry.ports import RunFacts
from shipyard.registry.records import models_t, transitions_t, versions_t
from shipyard.storage.metadata.upsert import insert_ignore


def insert_model(conn: Connection, name: str, description: str, allow_multiple: bool, *, actor: str) -> bool:
    """Create the model unless it exists (safe against a concurrent creator); True if created."""
    now = now_ms()
    row = {
        "id": new_id(),
        "name": name,
        "description": description,
        "allow_multiple_production": allow_multiple,
        "tags": {},
        "gate_policy": None,
        "created_at": now,
        "updated_at": now,
    }
    if not insert_ignore(conn, models_t, [row]):
        return False
    audit.append(
        conn,
        actor=actor,
        action="model.create",
        object_type="model",
        object_id=name,
        after={"description": description, "allow_multiple_production": allow_multiple},
    )
    return True


def insert_version(
    conn: Connection,
    model: Any,
    facts: RunFacts,
    manifest: PackageManifest,
    *,
    artifact_path: str,
    digest: str,
    description: str,
    limitations: str,
    tags: Mapping[str, str],
    actor: str,
) -> dict[str, Any]:
    """Add the next version of ``model`` (whose row the caller locked); returns its row's values."""
    latest = conn.execute(
        select(func.max(versions_t.c.version)).where(versions_t.c.model_id == model.id)
    ).scalar()
    number = (latest or 0) + 1
    now = now_ms()
    training = facts.training_data
    values = {
        "id": new_id(),
        "model_id": model.id,
        "version": number,
        "stage": Stage.REGISTERED.value,
        "run_id": facts.run_id,
        "artifact_path": artifact_path,
        "artifact_digest": digest,
        "flavor": manifest.flavor,
        "signature": manifest.signature.to_dict(),
        "input_example": list(manifest.input_example),
        "dataset_name": training.name if training else None,
        "dataset_digest": training.digest if training else None,
        "dataset_location": training.location if training else None,
        "dataset_rows": training.num_rows if training else None,
        "feature_service": facts.feature_service,
        "code_version": facts.git_commit,
        # JSON has no NaN or infinity; such a metric is left out of the snapshot.
        "metrics": {k: v for k, v in facts.metrics.items() if math.isfinite(v)},
        "params": dict(facts.params),
        "tags": dict(tags),
        "description": description,
        "limitations": limitations,
        "created_by": actor,
        "created_at": now,
        "updated_at": now,
    }
    conn.execute(versions_t.insert(), values)
    conn.execute(
        transitions_t.insert(),
        {
            "model_id": model.id,
            "version": number,
            "from_stage": None,
            "to_stage": Stage.REGISTERED.value,
            "actor": actor,
            "comment": f"registered from run {facts.run_id}",
            "created_at": now,
        },
    )
    audit.append(
        conn,
        actor=actor,
        action="version.create",
        object_type="model_version",
        object_id=f"{model.name}/{number}",
        after={"run_id": facts.run_id, "artifact_digest": digest, "flavor": manifest.flavor},
    )
    return values
