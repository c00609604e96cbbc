"""The JSON shapes of the feature store routes, mapped explicitly from the feature store's objects."""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shipyard.core.clock import to_datetime
from shipyard.features.model import DefinitionSummary
from shipyard.features.service import Description
from shipyard.server.fields import Input

# -- requests -----------------------------------------------------------------------------------


class OnlineIn(Input):
    model_config = ConfigDict(extra="forbid")

    features: list[str] | None = Field(None, description="'view:feature' or 'view' references.")
    service: str | None = Field(None, description="A feature service (instead of features).")
    entities: list[dict[str, Any]] = Field(..., description="One object of join-key values per row.")
    request_data: dict[str, list[Any]] | None = Field(
        None, description="Request-source fields for on-demand views: field -> one value per entity row."
    )
    full_feature_names: bool = False


class PushIn(Input):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(..., description="The push source's name.")
    rows: list[dict[str, Any]] = Field(
        ..., description="Rows of the push source's schema (timestamps as ISO-8601)."
    )


# -- responses ----------------------------------------------------------------------------------


def json_value(value: object) -> object:
    """A feature value as JSON: NaN/inf -> null, times ISO-8601, bytes base64."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


class DefinitionOut(BaseModel):
    kind: str
    name: str
    version: int
    description: str
    owner: str
    tags: dict[str, str]
    entities: list[str]
    features: list[str]
    updated_at: datetime

    @classmethod
    def of(cls, d: DefinitionSummary) -> DefinitionOut:
        return cls(
            kind=d.kind,
            name=d.name,
            version=d.latest_version,
            description=d.description,
            owner=d.owner,
            tags=dict(d.tags),
            entities=list(d.entities),
            features=list(d.features),
            updated_at=to_datetime(d.updated_at),
        )


class DefinitionsOut(BaseModel):
    definitions: list[DefinitionOut]


class VersionOut(BaseModel):
    version: int
    spec_digest: str
    created_at: datetime
    created_by: str


class DescriptionOut(DefinitionOut):
    spec: dict[str, Any]
    versions: list[VersionOut]
    statistics: list[dict[str, Any]] | None
    statistics_computed_at: datetime | None
    materialized_until: datetime | None

    @classmethod
    def describe(cls, d: Description) -> DescriptionOut:
        base = DefinitionOut.of(d.summary).model_dump()
        stats = d.statistics
        return cls(
            **base,
            spec=_jsonable(d.spec),
            versions=[
                VersionOut(
                    version=v.version,
                    spec_digest=v.spec_digest,
                    created_at=to_datetime(v.created_at),
                    created_by=v.created_by,
                )
                for v in d.versions
            ],
            statistics=None if stats is None else [_jsonable(s) for s in stats.stats],
            statistics_computed_at=None if stats is None else to_datetime(stats.computed_at),
            materialized_until=None if d.watermark is None else to_datetime(d.watermark[1]),
        )


def _jsonable(value: Mapping[str, Any]) -> dict[str, Any]:
    def walk(item: Any) -> Any:
        if isinstance(item, Mapping):
            return {str(k): walk(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [walk(v) for v in item]
        return json_value(item)

    result: dict[str, Any] = walk(value)
    return result


class PushOut(BaseModel):
    source: str
    rows: int
