"""Validating a definition set and diffing it against the registry, before anything is written.

Every problem found is collected, named by its definition and field, and raised as one
:class:`~shipyard.errors.InvalidInput`. References resolve inside the set first, then against
what is registered (a repository need not repeat an entity another team applied).
Definitions registered but absent from the set are reported as ``not in repo``, never deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import pyarrow as pa

from shipyard.errors import InvalidInput, ShipyardError
from shipyard.features.model import (
    Definition,
    DefinitionVersion,
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    PushSource,
    RequestSource,
    kind_of,
    parse_feature_ref,
    spec_digest,
)
from shipyard.features.specs import Spec, from_spec, to_spec

Status = Literal["added", "changed", "unchanged", "not in repo"]
SchemaOf = Callable[[FeatureView], pa.Schema]


@dataclass(frozen=True)
class PlannedChange:
    kind: str
    name: str
    status: Status
    current_version: int | None
    #: The version ``apply`` will create (None when nothing is written).
    new_version: int | None
    #: Top-level spec fields that differ from the registered version.
    changed_fields: tuple[str, ...]
    spec: Mapping[str, Any]
    digest: str


@dataclass(frozen=True)
class Plan:
    changes: tuple[PlannedChange, ...]

    @property
    def to_write(self) -> tuple[PlannedChange, ...]:
        return tuple(c for c in self.changes if c.status in ("added", "changed"))

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {"added": 0, "changed": 0, "unchanged": 0, "not in repo": 0}
        for c in self.changes:
            counts[c.status] += 1
        return counts


def make_plan(
    definitions: Sequence[Definition],
    registered: Mapping[tuple[str, str], DefinitionVersion],
    schema_of: SchemaOf,
) -> Plan:
    """Validate ``definitions`` and diff them against ``registered`` (latest versions)."""
    validator = _Validator(definitions, registered, schema_of)
    problems = validator.run()
    if problems:
        listed = "; ".join(problems)
        raise InvalidInput(
            f"{len(problems)} problem(s) in the feature definitions: {listed}", field="definitions"
        )
    definitions = [with_join_keys(d, validator.entities) for d in definitions]
    changes: list[PlannedChange] = []
    names: set[tuple[str, str]] = set()
    for d in definitions:
        kind, spec = kind_of(d), to_spec(d)
        if (kind, d.name) in names:
            continue
        names.add((kind, d.name))
        digest = spec_digest(spec)
        current = registered.get((kind, d.name))
        if current is None:
            changes.append(PlannedChange(kind, d.name, "added", None, 1, tuple(sorted(spec)), spec, digest))
        elif current.spec_digest == digest:
            changes.append(PlannedChange(kind, d.name, "unchanged", current.version, None, (), spec, digest))
        else:
            fields = tuple(
                sorted(k for k in set(spec) | set(current.spec) if spec.get(k) != current.spec.get(k))
            )
            changes.append(
                PlannedChange(
                    kind, d.name, "changed", current.version, current.version + 1, fields, spec, digest
                )
            )
    for (kind, name), current in sorted(registered.items()):
        if (kind, name) not in names:
            changes.append(
                PlannedChange(
                    kind, name, "not in repo", current.version, None, (), current.spec, current.spec_digest
                )
            )
    return Plan(tuple(changes))


def with_join_keys(definition: Definition, entities: Mapping[str, Entity]) -> Definition:
    """A feature view whose entities were given by name gets their join keys (stored with it)."""
    if not isinstance(definition, FeatureView) or definition.join_keys:
        return definition
    keys = tuple(k for e in definition.entities for k in entities[e].key_names)
    return replace(definition, join_keys=keys)


class _Validator:
    def __init__(
        self,
        definitions: Sequence[Definition],
        registered: Mapping[tuple[str, str], DefinitionVersion],
        schema_of: SchemaOf,
    ) -> None:
        self.definitions = definitions
        self.registered = registered
        self.schema_of = schema_of
        self.problems: list[str] = []
        self.entities: dict[str, Entity] = {}
        self.views: dict[str, FeatureView | OnDemandFeatureView | Spec] = {}

    def problem(self, kind: str, name: str, field: str, message: str) -> None:
        self.problems.append(f"{kind.replace('_', ' ')} {name!r} ({field}): {message}")

    def run(self) -> list[str]:
        self._index()
        for d in self.definitions:
            if isinstance(d, FeatureView):
                self._check_view(d)
            elif isinstance(d, OnDemandFeatureView):
                self._check_on_demand(d)
            elif isinstance(d, FeatureService):
                self._check_service(d)
        return self.problems

    def _index(self) -> None:
        by_name: dict[tuple[str, str], Definition] = {}
        for d in self.definitions:
            kind = kind_of(d)
            key = (kind, d.name)
            if key in by_name and to_spec(by_name[key]) != to_spec(d):
                self.problem(kind, d.name, "name", "defined twice with different contents")
            by_name[key] = d
        for (kind, name), current in self.registered.items():
            if kind == "entity":
                entity = from_spec(current.spec)
                assert isinstance(entity, Entity)
                self.entities[name] = entity
            elif kind in ("feature_view", "on_demand_feature_view"):
                self.views[name] = dict(current.spec)
        for (kind, name), d in by_name.items():
            if isinstance(d, Entity):
                self.entities[name] = d
            elif isinstance(d, FeatureView | OnDemandFeatureView):
                other = next(
                    (o for (k, n), o in by_name.items() if n == name and k != kind and k in _VIEW_KINDS), None
                )
                if other is not None and isinstance(d, FeatureView):
                    self.problem(
                        kind, name, "name", "a feature view and an on-demand feature view share this name"
                    )
                self.views[name] = d

    def _check_view(self, view: FeatureView) -> None:
        kind = "feature_view"
        keys: list[tuple[str, Any]] = []
        for entity_name in view.entities:
            entity = self.entities.get(entity_name)
            if entity is None:
                self.problem(kind, view.name, "entities", f"unknown entity {entity_name!r}")
            else:
                keys.extend((k.name, k.dtype) for k in entity.join_keys)
        if isinstance(view.source, PushSource) and not view.transformation:
            declared = {f.name: f.dtype for f in view.source.schema}
            schema = pa.schema([pa.field(n, t.arrow()) for n, t in declared.items()])
        else:
            try:
                schema = self.schema_of(view)
            except ShipyardError as exc:
                self.problem(kind, view.name, "source", str(exc))
                return
        columns = {f.name: f.type for f in schema}

        def need(
            field: str, column: str, what: str, check: Callable[[pa.DataType], bool], expected: str
        ) -> None:
            if column not in columns:
                self.problem(
                    kind,
                    view.name,
                    field,
                    f"{what} column {column!r} is not in the source (has: {', '.join(columns)})",
                )
            elif not check(columns[column]):
                self.problem(
                    kind,
                    view.name,
                    field,
                    f"{what} column {column!r} is {columns[column]}, expected {expected}",
                )

        is_time = lambda t: pa.types.is_timestamp(t) or pa.types.is_date(t)  # noqa: E731
        need("timestamp_field", view.timestamp_field, "timestamp", is_time, "a timestamp")
        if view.created_timestamp_field:
            need(
                "created_timestamp_field",
                view.created_timestamp_field,
                "created timestamp",
                is_time,
                "a timestamp",
            )
        for key, dtype in keys:
            need("entities", key, "join key", dtype.accepts, f"a type {dtype.value} accepts")
        for f in view.features:
            need("features", f.name, "feature", f.dtype.accepts, f"a type {f.dtype.value} accepts")
        overlap = {k for k, _ in keys} & set(view.feature_names)
        if overlap:
            self.problem(
                kind, view.name, "features", f"features named like join keys: {', '.join(sorted(overlap))}"
            )

    def _view_features(self, name: str) -> tuple[str, ...] | None:
        view = self.views.get(name)
        if view is None:
            return None
        if isinstance(view, FeatureView | OnDemandFeatureView):
            return view.feature_names
        return tuple(f["name"] for f in view.get("features", []))

    def _check_on_demand(self, view: OnDemandFeatureView) -> None:
        kind = "on_demand_feature_view"
        inputs: list[str] = []
        for source in view.sources:
            if isinstance(source, FeatureView):
                if source.name not in self.views:
                    self.problem(kind, view.name, "sources", f"unknown feature view {source.name!r}")
                inputs.extend(source.feature_names)
            elif isinstance(source, RequestSource):
                inputs.extend(f.name for f in source.schema)
        clash = set(view.feature_names) & set(inputs)
        if clash:
            self.problem(
                kind, view.name, "features", f"outputs named like inputs: {', '.join(sorted(clash))}"
            )

    def _check_service(self, service: FeatureService) -> None:
        kind = "feature_service"
        outputs: dict[str, str] = {}
        for ref in service.features:
            try:
                view_name, _, feature = parse_feature_ref(ref)
            except InvalidInput as exc:
                self.problem(kind, service.name, "features", str(exc))
                continue
            available = self._view_features(view_name)
            if available is None:
                self.problem(kind, service.name, "features", f"unknown feature view {view_name!r} in {ref!r}")
                continue
            if feature is not None and feature not in available:
                self.problem(
                    kind, service.name, "features", f"feature view {view_name!r} has no feature {feature!r}"
                )
                continue
            for name in (feature,) if feature else available:
                if name in outputs:
                    self.problem(
                        kind,
                        service.name,
                        "features",
                        f"output name {name!r} appears twice ({outputs[name]} and {ref}); list each feature once",
                    )
                outputs[name] = ref


_VIEW_KINDS = ("feature_view", "on_demand_feature_view")
