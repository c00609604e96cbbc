"""Feature store routes under ``/api/v1/features``: the catalog (reads), online reads and pushes.

Definitions are applied from a feature repository with the CLI or the SDK, not over HTTP.
Catalog and online reads need ``features.read``; pushing rows needs ``features.write``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from shipyard.errors import InvalidInput
from shipyard.features.service import FeatureStore
from shipyard.server import feature_schemas as s
from shipyard.server.deps import Shipyard, authorize

router = APIRouter(prefix="/api/v1/features", tags=["features"])


def get_features(app: Shipyard) -> FeatureStore:
    return app.features


Features = Annotated[FeatureStore, Depends(get_features)]
_READ = [Depends(authorize("features.read"))]


def _tags(tag: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in tag:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"tag filter must be key=value, got {item!r}", field="tag")
        tags[key] = value
    return tags


@router.get("/views", dependencies=_READ)
def list_views(
    features: Features,
    entity: str | None = None,
    owner: str | None = None,
    tag: Annotated[list[str], Query(description="key=value; repeat to require several.")] = [],  # noqa: B006
    kind: str | None = Query(None, description="Default: feature views and on-demand views."),
) -> s.DefinitionsOut:
    """Registered definitions (feature views and on-demand views unless ``kind`` says otherwise)."""
    found = features.list_definitions(kind=kind, entity=entity, tags=_tags(tag), owner=owner)
    if kind is None:
        found = [d for d in found if d.kind in ("feature_view", "on_demand_feature_view")]
    return s.DefinitionsOut(definitions=[s.DefinitionOut.of(d) for d in found])


@router.get("/views/{name}", dependencies=_READ)
def describe_view(name: str, features: Features) -> s.DescriptionOut:
    """A definition's versions, spec, latest statistics and materialization watermark."""
    return s.DescriptionOut.describe(features.describe(name))


@router.get("/services", dependencies=_READ)
def list_services(features: Features) -> s.DefinitionsOut:
    found = features.list_definitions(kind="feature_service")
    return s.DefinitionsOut(definitions=[s.DefinitionOut.of(d) for d in found])


@router.get("/search", dependencies=_READ)
def search(features: Features, q: Annotated[str, Query(description="Text to look for.")]) -> s.DefinitionsOut:
    return s.DefinitionsOut(definitions=[s.DefinitionOut.of(d) for d in features.search(q)])


@router.post("/online", dependencies=_READ)
def online(body: s.OnlineIn, features: Features) -> JSONResponse:
    """Served values for each entity row: ``{"columns": {name: [value per row]}, "statuses":
    [{feature: "present" | "not_found" | "expired"} per row]}``."""
    response = features.get_online_features(
        body.features,
        body.service,
        entity_rows=body.entities,
        request_data=body.request_data,
        full_feature_names=body.full_feature_names,
    )
    columns = {name: [s.json_value(v) for v in values] for name, values in response.columns.items()}
    return JSONResponse({"columns": columns, "statuses": response.statuses})


@router.post("/push", dependencies=[Depends(authorize("features.write"))])
def push(body: s.PushIn, features: Features) -> s.PushOut:
    """Append rows to a push source: visible offline at once and served online."""
    return s.PushOut(source=body.source, rows=features.push_records(body.source, body.rows))
