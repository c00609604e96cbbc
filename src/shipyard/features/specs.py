"""Definitions <-> JSON specs: what the registry stores for every version, and what its digest is
taken over (:func:`shipyard.features.model.spec_digest`).

On-demand views are stored with their function's import path and source digest, never the code:
:func:`shipyard.features.ondemand.load_function` imports it at use and refuses a function whose
source changed since it was applied. Views an on-demand view reads are stored by name; which version
of them is used is decided when features are resolved.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.features.model import (
    Definition,
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    OnDemandFeatureView,
    PushSource,
    RequestSource,
    Source,
    SqlSource,
    kind_of,
    spec_digest,
)

Spec = dict[str, Any]


def _field(f: Field) -> Spec:
    return {
        "name": f.name,
        "dtype": f.dtype.value,
        "description": f.description,
        "owner": f.owner,
        "tags": dict(f.tags),
    }


def _field_from(spec: Mapping[str, Any]) -> Field:
    return Field(
        spec["name"],
        spec["dtype"],
        description=spec.get("description", ""),
        owner=spec.get("owner", ""),
        tags=spec.get("tags") or {},
    )


def _source(source: Source) -> Spec:
    if isinstance(source, FileSource):
        return {"type": "file", "name": source.name, "path": source.path, "format": source.format}
    if isinstance(source, SqlSource):
        return {
            "type": "sql",
            "name": source.name,
            "url": source.url,
            "table": source.table,
            "query": source.query,
        }
    return {"type": "push", "name": source.name, "schema": [_field(f) for f in source.schema]}


def _source_from(spec: Mapping[str, Any]) -> Source:
    kind = spec["type"]
    if kind == "file":
        return FileSource(spec["name"], spec["path"], spec.get("format", "parquet"))
    if kind == "sql":
        return SqlSource(spec["name"], spec["url"], table=spec.get("table"), query=spec.get("query"))
    if kind == "push":
        return PushSource(spec["name"], [_field_from(f) for f in spec["schema"]])
    raise InvalidInput(f"unknown source type {kind!r} in a stored spec", field="source")


def _common(definition: Entity | FeatureView | OnDemandFeatureView | FeatureService) -> Spec:
    return {"description": definition.description, "owner": definition.owner, "tags": dict(definition.tags)}


def to_spec(definition: Definition) -> Spec:
    """The JSON-able spec of a definition (``kind`` and ``name`` included)."""
    spec: Spec = {"kind": kind_of(definition), "name": definition.name}
    if isinstance(definition, Entity):
        spec |= {"join_keys": [_field(k) for k in definition.join_keys]} | _common(definition)
    elif isinstance(definition, FeatureView):
        ttl = definition.ttl
        spec |= {
            "entities": list(definition.entities),
            "features": [_field(f) for f in definition.features],
            "source": _source(definition.source),
            "timestamp_field": definition.timestamp_field,
            "created_timestamp_field": definition.created_timestamp_field,
            "ttl_seconds": None if ttl is None else ttl.total_seconds(),
            "transformation": definition.transformation,
            "online": definition.online,
            "join_keys": list(definition.join_keys),
        } | _common(definition)
    elif isinstance(definition, OnDemandFeatureView):
        spec |= {
            "sources": [
                {"type": "feature_view", "name": s.name}
                if isinstance(s, FeatureView)
                else {"type": "request", "name": s.name, "schema": [_field(f) for f in s.schema]}
                for s in definition.sources
            ],
            "features": [_field(f) for f in definition.features],
            "function_ref": definition.function_ref,
            "function_digest": definition.function_digest,
        } | _common(definition)
    elif isinstance(definition, FeatureService):
        spec |= {"features": list(definition.features)} | _common(definition)
    else:
        spec |= {"schema": [_field(f) for f in definition.schema]}
    return spec


def digest_of(definition: Definition) -> str:
    return spec_digest(to_spec(definition))


def from_spec(spec: Mapping[str, Any], view: Callable[[str], FeatureView] | None = None) -> Definition:
    """The definition a stored spec describes. ``view`` looks up the feature views an on-demand
    view reads (required for on-demand views)."""
    kind, name = spec["kind"], spec["name"]
    common = {
        "description": spec.get("description", ""),
        "owner": spec.get("owner", ""),
        "tags": spec.get("tags") or {},
    }
    if kind == "entity":
        return Entity(name, [_field_from(k) for k in spec["join_keys"]], **common)
    if kind == "feature_view":
        ttl = spec.get("ttl_seconds")
        return FeatureView(
            name,
            entities=spec["entities"],
            features=[_field_from(f) for f in spec["features"]],
            source=_source_from(spec["source"]),
            timestamp_field=spec["timestamp_field"],
            created_timestamp_field=spec.get("created_timestamp_field"),
            ttl=None if ttl is None else timedelta(seconds=ttl),
            transformation=spec.get("transformation"),
            online=spec.get("online", True),
            join_keys=spec.get("join_keys") or None,
            **common,
        )
    if kind == "on_demand_feature_view":
        if view is None:
            raise InvalidInput(
                f"on-demand feature view {name!r}: its input views are needed", field="sources"
            )
        sources: list[FeatureView | RequestSource] = [
            view(s["name"])
            if s["type"] == "feature_view"
            else RequestSource(s["name"], [_field_from(f) for f in s["schema"]])
            for s in spec["sources"]
        ]
        return OnDemandFeatureView(
            name,
            sources=sources,
            features=[_field_from(f) for f in spec["features"]],
            function_ref=spec["function_ref"],
            function_digest=spec["function_digest"],
            **common,
        )
    if kind == "feature_service":
        return FeatureService(name, spec["features"], **common)
    if kind == "request_source":
        return RequestSource(name, [_field_from(f) for f in spec["schema"]])
    raise InvalidInput(f"unknown definition kind {kind!r} in a stored spec", field="kind")


def input_view_names(spec: Mapping[str, Any]) -> list[str]:
    """The feature views a stored on-demand view spec reads."""
    return [s["name"] for s in spec.get("sources", []) if s.get("type") == "feature_view"]


_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@/\s]+@")


def redacted(spec: Mapping[str, Any]) -> Spec:
    """``spec`` with any password in a source URL masked, for display and the audit trail (the
    registry keeps the URL whole: retrieval connects with it)."""

    def walk(item: Any) -> Any:
        if isinstance(item, Mapping):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        if isinstance(item, str) and "@" in item:
            return _PASSWORD.sub(r"\1***@", item)
        return item

    result: Spec = walk(spec)
    return result
