"""Serving-side feature store calls over HTTP, for programs that talk to a Shipyard server:
:class:`~shipyard.features.api.FeatureServing` (online reads, pushes and catalog lookups) on
``/api/v1/features``. Definitions are applied, training sets built and views materialized where the
stores are (embedded mode, or on the server host).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from shipyard.client.http import RemoteClient
from shipyard.errors import InvalidInput
from shipyard.features.api import FeatureServing
from shipyard.features.model import DefinitionSummary
from shipyard.features.online import OnlineResponse


def _json(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime | date) else value


def _summary(d: Mapping[str, Any]) -> DefinitionSummary:
    updated = int(datetime.fromisoformat(d["updated_at"]).timestamp() * 1000)
    return DefinitionSummary(
        kind=d["kind"],
        name=d["name"],
        latest_version=d["version"],
        description=d["description"],
        owner=d["owner"],
        tags=dict(d["tags"]),
        entities=tuple(d["entities"]),
        features=tuple(d["features"]),
        created_at=updated,  # the API reports when the latest version was applied
        updated_at=updated,
    )


class RemoteFeatures(RemoteClient, FeatureServing):
    """:class:`~shipyard.features.api.FeatureServing` over a :class:`~shipyard.client.http.ServerConnection`
    (``RemoteFeatures(url, token)`` opens its own; ``RemoteFeatures(connection)`` shares one)."""

    def get_online_features(
        self,
        features: Sequence[str] | None = None,
        service: str | None = None,
        *,
        entity_rows: Sequence[Mapping[str, object]],
        request_data: Mapping[str, Sequence[object]] | None = None,
        full_feature_names: bool = False,
    ) -> OnlineResponse:
        if isinstance(features, str):
            raise InvalidInput("features must be a list of references, not a string", field="features")
        body = {
            "features": None if features is None else list(features),
            "service": service,
            "entities": [{k: _json(v) for k, v in row.items()} for row in entity_rows],
            "request_data": None
            if request_data is None
            else {k: [_json(v) for v in values] for k, values in request_data.items()},
            "full_feature_names": full_feature_names,
        }
        data = self.connection.json("POST", "/features/online", json=body, idempotent=True)
        return OnlineResponse(columns=data["columns"], statuses=data["statuses"])

    def push_records(self, source: str, records: Sequence[Mapping[str, object]]) -> int:
        rows = [{k: _json(v) for k, v in r.items()} for r in records]
        count: int = self.connection.json("POST", "/features/push", json={"source": source, "rows": rows})[
            "rows"
        ]
        return count

    def list_definitions(
        self,
        *,
        kind: str | None = None,
        entity: str | None = None,
        tags: Mapping[str, str] | None = None,
        owner: str | None = None,
    ) -> list[DefinitionSummary]:
        params: dict[str, str | list[str]] = {"tag": [f"{k}={v}" for k, v in (tags or {}).items()]}
        params |= {k: v for k, v in (("kind", kind), ("entity", entity), ("owner", owner)) if v is not None}
        found = [
            _summary(d) for d in self.connection.json("GET", "/features/views", params=params)["definitions"]
        ]
        if kind is None:  # the route lists views by default; the SDK lists every kind
            for other in ("feature_service", "entity", "request_source"):
                more = self.connection.json("GET", "/features/views", params={**params, "kind": other})[
                    "definitions"
                ]
                found += [_summary(d) for d in more]
            found.sort(key=lambda d: (d.kind, d.name))
        return found

    def search(self, text: str, *, kind: str | None = None) -> list[DefinitionSummary]:
        found = [
            _summary(d)
            for d in self.connection.json("GET", "/features/search", params={"q": text})["definitions"]
        ]
        return [d for d in found if kind is None or d.kind == kind]
