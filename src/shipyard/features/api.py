"""The feature store's serving use cases as a protocol: online reads, pushes and catalog lookups.

:class:`~shipyard.features.service.FeatureStore` implements it in process (embedded mode and
inside the server); :class:`shipyard.client.remote_features.RemoteFeatures` implements it over HTTP
(``/api/v1/features``), so serving code does not change between them. Definitions are applied,
training sets built and views materialized where the stores are, not through this protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from shipyard.features.model import DefinitionSummary
from shipyard.features.online import OnlineResponse


class FeatureServing(Protocol):
    def get_online_features(
        self,
        features: Sequence[str] | None = None,
        service: str | None = None,
        *,
        entity_rows: Sequence[Mapping[str, object]],
        request_data: Mapping[str, Sequence[object]] | None = None,
        full_feature_names: bool = False,
    ) -> OnlineResponse: ...

    def push_records(self, source: str, records: Sequence[Mapping[str, object]]) -> int: ...

    def list_definitions(
        self,
        *,
        kind: str | None = None,
        entity: str | None = None,
        tags: Mapping[str, str] | None = None,
        owner: str | None = None,
    ) -> list[DefinitionSummary]: ...

    def search(self, text: str, *, kind: str | None = None) -> list[DefinitionSummary]: ...
