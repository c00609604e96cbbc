"""Turning ``features=[...]`` or ``service=`` into a :class:`ResolvedFeatures` of registered views.

A reference is ``"view"`` (all its features), ``"view:feature"`` or ``"view@2:feature"`` (that
version). A view's version is, in order of precedence: the one in the reference, the one in
``versions``, the latest. An on-demand view's input views are added (with all their features, the
function's inputs) when the caller did not ask for them; they do not appear in the output columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from sqlalchemy import Connection

from shipyard.errors import InvalidInput
from shipyard.features import catalog
from shipyard.features.model import (
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    parse_feature_ref,
)
from shipyard.features.selection import OnDemandSelection, ResolvedFeatures, ViewSelection
from shipyard.features.specs import from_spec


class _Loader:
    def __init__(self, conn: Connection, versions: Mapping[str, int]) -> None:
        self.conn = conn
        self.versions = dict(versions)
        self.cache: dict[tuple[str, int | None], tuple[FeatureView | OnDemandFeatureView, int]] = {}

    def view(self, name: str, version: int | None = None) -> tuple[FeatureView | OnDemandFeatureView, int]:
        if version is None:
            version = self.versions.get(name)
        key = (name, version)
        if key not in self.cache:
            stored = catalog.get_version(self.conn, catalog.VIEW_KINDS, name, version)
            definition = from_spec(stored.spec, self.feature_view)
            if isinstance(definition, FeatureView) and not definition.join_keys:
                keys = tuple(k for e in definition.entities for k in self.entity(e).key_names)
                definition = replace(definition, join_keys=keys)
            assert isinstance(definition, FeatureView | OnDemandFeatureView)
            self.cache[key] = (definition, stored.version)
        return self.cache[key]

    def feature_view(self, name: str) -> FeatureView:
        view, _ = self.view(name)
        if not isinstance(view, FeatureView):
            raise InvalidInput(
                f"{name!r} is an on-demand view; an on-demand view cannot read another", field="sources"
            )
        return view

    def entity(self, name: str) -> Entity:
        stored = catalog.get_version(self.conn, ("entity",), name)
        entity = from_spec(stored.spec)
        assert isinstance(entity, Entity)
        return entity


def service_refs(conn: Connection, name: str) -> tuple[str, ...]:
    stored = catalog.get_version(conn, ("feature_service",), name)
    service = from_spec(stored.spec)
    assert isinstance(service, FeatureService)
    return service.features


def resolve(
    conn: Connection,
    features: Sequence[str] | None,
    service: str | None,
    *,
    full_feature_names: bool = False,
    versions: Mapping[str, int] | None = None,
) -> ResolvedFeatures:
    if (features is None) == (service is None):
        raise InvalidInput("give either features=[...] or service=..., not both or neither", field="features")
    refs = service_refs(conn, service) if service is not None else tuple(features or ())
    if isinstance(features, str):
        raise InvalidInput("features must be a list of references, not a string", field="features")
    if not refs:
        raise InvalidInput("features is empty: list at least one 'view' or 'view:feature'", field="features")
    pinned = dict(versions or {})
    # A version pinned in a reference also applies where an on-demand view reads that view.
    for ref in refs:
        name, version, _ = parse_feature_ref(ref)
        if version is not None:
            pinned.setdefault(name, version)
    loader = _Loader(conn, pinned)
    chosen: dict[str, tuple[FeatureView | OnDemandFeatureView, int, list[str]]] = {}
    wanted: list[tuple[str, str]] = []
    for ref in refs:
        name, version, feature = parse_feature_ref(ref)
        view, found = loader.view(name, version)
        if name in chosen and chosen[name][1] != found:
            raise InvalidInput(
                f"feature view {name!r} is asked for at versions {chosen[name][1]} and {found}; use one",
                field="features",
            )
        if feature is not None and feature not in view.feature_names:
            raise InvalidInput(
                f"feature view {name!r} (version {found}) has no feature {feature!r}; it has: {', '.join(view.feature_names)}",
                field="features",
            )
        entry = chosen.setdefault(name, (view, found, []))
        for f in (feature,) if feature else view.feature_names:
            if f not in entry[2]:
                entry[2].append(f)
                wanted.append((name, f))
    # Inputs of on-demand views, at the version asked for or the latest.
    for view, _, _ in list(chosen.values()):
        if isinstance(view, OnDemandFeatureView):
            for source in view.sources:
                if isinstance(source, FeatureView):
                    entry = chosen.setdefault(source.name, (source, loader.view(source.name)[1], []))
                    entry[2].extend(f for f in source.feature_names if f not in entry[2])
    return _build(chosen, wanted, loader, full_feature_names, service)


def _build(
    chosen: Mapping[str, tuple[FeatureView | OnDemandFeatureView, int, list[str]]],
    wanted: Sequence[tuple[str, str]],
    loader: _Loader,
    full_feature_names: bool,
    service: str | None,
) -> ResolvedFeatures:
    views: list[ViewSelection] = []
    on_demand: list[OnDemandSelection] = []
    entity_columns: list[str] = []
    request_columns: list[str] = []
    for view, version, feats in chosen.values():
        if isinstance(view, FeatureView):
            views.append(ViewSelection(view, version, tuple(feats)))
            entity_columns.extend(k for k in view.join_keys if k not in entity_columns)
        else:
            on_demand.append(OnDemandSelection(view, version, tuple(feats)))
            for source in view.sources:
                if not isinstance(source, FeatureView):
                    request_columns.extend(f.name for f in source.schema if f.name not in request_columns)
    output: list[str] = []
    where: dict[str, str] = {}
    for view_name, feature in wanted:
        column = f"{view_name}__{feature}" if full_feature_names else feature
        if column in where:
            raise InvalidInput(
                f"output column {column!r} comes from both {where[column]!r} and {view_name!r}; "
                "ask for full feature names (view__feature) or leave one out",
                field="features",
            )
        where[column] = view_name
        output.append(column)
    clash = set(output) & (set(entity_columns) | set(request_columns))
    if clash:
        raise InvalidInput(
            f"feature column(s) {', '.join(sorted(clash))} clash with entity or request columns",
            field="features",
        )
    return ResolvedFeatures(
        views=tuple(views),
        on_demand=tuple(on_demand),
        output_columns=tuple(output),
        entity_columns=tuple(entity_columns),
        request_columns=tuple(request_columns),
        full_feature_names=full_feature_names,
        service=service,
    )


def refs_with_versions(resolved: ResolvedFeatures) -> list[str]:
    """The output features as pinned references (``view@version:feature``), for lineage."""
    versions: dict[str, int] = resolved.versions
    out: list[str] = []
    pairs = [(s.view.name, s.features) for s in resolved.views] + [
        (s.view.name, s.features) for s in resolved.on_demand
    ]
    for name, features in pairs:
        for feature in features:
            if resolved.column_name(name, feature) in resolved.output_columns:
                out.append(f"{name}@{versions[name]}:{feature}")
    return out
