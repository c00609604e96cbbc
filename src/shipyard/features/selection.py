"""What a ``features=[...]`` list or a ``service=`` name resolves to: registered views at fixed
versions, the features wanted from each, and the column names of the result.

Built by :meth:`shipyard.features.service.FeatureStore.resolve`; consumed by the offline store
(historical retrieval), the online reader and materialization.
"""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.features.model import FeatureView, OnDemandFeatureView


@dataclass(frozen=True)
class ViewSelection:
    """One feature view, at one registered version, some of its features."""

    view: FeatureView
    version: int
    features: tuple[str, ...]


@dataclass(frozen=True)
class OnDemandSelection:
    """One on-demand view at one registered version, some of its features."""

    view: OnDemandFeatureView
    version: int
    features: tuple[str, ...]


@dataclass(frozen=True)
class ResolvedFeatures:
    """Everything a retrieval needs.

    ``output_columns`` are in request order: ``"feature"`` or, with full feature names,
    ``"view__feature"``. ``entity_columns`` are all the join keys needed (including those of the
    views an on-demand view reads); ``request_columns`` the request-source fields the on-demand
    views need. Views an on-demand view reads but the caller did not ask for appear in ``views``
    with the features the on-demand view needs; they are not in ``output_columns``.
    """

    views: tuple[ViewSelection, ...]
    on_demand: tuple[OnDemandSelection, ...]
    output_columns: tuple[str, ...]
    entity_columns: tuple[str, ...]
    request_columns: tuple[str, ...]
    full_feature_names: bool = False
    service: str | None = None

    def column_name(self, view: str, feature: str) -> str:
        return f"{view}__{feature}" if self.full_feature_names else feature

    @property
    def versions(self) -> dict[str, int]:
        """View name -> registered version, for lineage."""
        out = {s.view.name: s.version for s in self.views}
        out.update({s.view.name: s.version for s in self.on_demand})
        return out
