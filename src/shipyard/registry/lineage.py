"""The versions registered from runs, for lineage: run -> model version."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, select

from shipyard.registry.tables import ModelVersionRow, RegisteredModelRow
from shipyard.storage.metadata.base import table

models_t = table(RegisteredModelRow)
versions_t = table(ModelVersionRow)


@dataclass(frozen=True)
class RegisteredFrom:
    run_id: str
    model: str
    version: int
    stage: str


def versions_of_runs(conn: Connection, run_ids: Iterable[str]) -> list[RegisteredFrom]:
    wanted = set(run_ids)
    if not wanted:
        return []
    query = (
        select(versions_t.c.run_id, models_t.c.name, versions_t.c.version, versions_t.c.stage)
        .join(models_t, models_t.c.id == versions_t.c.model_id)
        .where(versions_t.c.run_id.in_(wanted))
        .order_by(models_t.c.name, versions_t.c.version)
    )
    return [RegisteredFrom(r.run_id, r.name, r.version, r.stage) for r in conn.execute(query)]
