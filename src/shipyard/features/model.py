"""What the feature store talks about: entities, sources, feature views, on-demand views and
feature services, as users write them in Python.

Definitions are frozen values. Constructors normalise what users type (``join_keys={"id":
"int64"}``, ``ttl=timedelta(days=30)``) and reject what is malformed on its own; checks that need
other definitions or the source's schema (unknown entity, type mismatch, missing timestamp
column) happen when a definition set is planned (:mod:`shipyard.features.planner`).

Point-in-time semantics (used offline, by materialization and online):
for an entity row at time ``T`` a feature view yields its latest row with
``T - ttl <= event_ts <= T`` (no TTL: no look-back limit), ties on ``event_ts`` broken by the
larger created timestamp; where the view has a created timestamp, rows created after ``T`` are
invisible unless the caller turns that off. No qualifying row gives nulls, never a dropped row.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from shipyard.errors import InvalidInput
from shipyard.features.types import ValueType

if TYPE_CHECKING:
    import pandas as pd

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            f"{kind} name must be a letter or '_' followed by up to 127 letters, digits or '_', got {name!r}",
            field="name",
        )
    return name


def _tags(tags: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(sorted((str(k), str(v)) for k, v in (tags or {}).items()))


@dataclass(frozen=True)
class Field:
    """A typed column: a join key, a feature, or a request field."""

    name: str
    dtype: ValueType
    description: str = ""
    owner: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __init__(
        self,
        name: str,
        dtype: ValueType | str,
        description: str = "",
        owner: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> None:
        object.__setattr__(self, "name", check_name("field", name))
        object.__setattr__(self, "dtype", ValueType.parse(dtype, field=name))
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "owner", owner)
        object.__setattr__(self, "tags", _tags(tags))


def _fields(kind: str, value: Sequence[Field] | Mapping[str, ValueType | str]) -> tuple[Field, ...]:
    items = (
        tuple(Field(n, ValueType.parse(t, field=n)) for n, t in value.items())
        if isinstance(value, Mapping)
        else tuple(value)
    )
    seen: set[str] = set()
    for f in items:
        if not isinstance(f, Field):
            raise InvalidInput(
                f"{kind} must be Field objects or a name -> type mapping, got {f!r}", field=kind
            )
        if f.name in seen:
            raise InvalidInput(f"duplicate name {f.name!r} in {kind}", field=kind)
        seen.add(f.name)
    return items


@dataclass(frozen=True)
class Entity:
    """What features describe (a customer, a (customer, merchant) pair): its join keys, typed."""

    name: str
    join_keys: tuple[Field, ...]
    description: str = ""
    owner: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __init__(
        self,
        name: str,
        join_keys: Sequence[Field] | Mapping[str, ValueType | str],
        *,
        description: str = "",
        owner: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> None:
        object.__setattr__(self, "name", check_name("entity", name))
        keys = _fields("join_keys", join_keys)
        if not keys:
            raise InvalidInput(f"entity {name!r} needs at least one join key", field="join_keys")
        object.__setattr__(self, "join_keys", keys)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "owner", owner)
        object.__setattr__(self, "tags", _tags(tags))

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.join_keys)


FileFormat: TypeAlias = Literal["parquet", "csv"]


@dataclass(frozen=True)
class FileSource:
    """Parquet or CSV: one file, a glob, or a (hive-)partitioned folder; local or ``s3://``."""

    name: str
    path: str
    format: FileFormat = "parquet"

    def __post_init__(self) -> None:
        check_name("source", self.name)
        if self.format not in ("parquet", "csv"):
            raise InvalidInput(
                f"source {self.name!r}: format must be parquet or csv, got {self.format!r}", field="format"
            )
        if not self.path:
            raise InvalidInput(f"source {self.name!r}: path is empty", field="path")


@dataclass(frozen=True)
class SqlSource:
    """A table (or a query) in PostgreSQL (``postgresql://…``) or a DuckDB file (``duckdb:///path``)."""

    name: str
    url: str
    table: str | None = None
    query: str | None = None

    def __post_init__(self) -> None:
        check_name("source", self.name)
        if (self.table is None) == (self.query is None):
            raise InvalidInput(f"source {self.name!r}: give exactly one of table or query", field="table")
        if not self.url.startswith(("postgresql://", "postgresql+psycopg://", "duckdb:///")):
            raise InvalidInput(
                f"source {self.name!r}: url must start with postgresql:// or duckdb:///, got {self.url!r}",
                field="url",
            )


@dataclass(frozen=True)
class PushSource:
    """Rows sent through the SDK or ``POST /features/push``; kept offline (Parquet parts in the
    artifact store) and written to the online store as they arrive."""

    name: str
    schema: tuple[Field, ...]

    def __init__(self, name: str, schema: Sequence[Field] | Mapping[str, ValueType | str]) -> None:
        object.__setattr__(self, "name", check_name("source", name))
        object.__setattr__(self, "schema", _fields("schema", schema))


@dataclass(frozen=True)
class RequestSource:
    """Values that arrive with a request (an on-demand view's inputs that no store holds)."""

    name: str
    schema: tuple[Field, ...]

    def __init__(self, name: str, schema: Sequence[Field] | Mapping[str, ValueType | str]) -> None:
        object.__setattr__(self, "name", check_name("request source", name))
        object.__setattr__(self, "schema", _fields("schema", schema))


Source: TypeAlias = FileSource | SqlSource | PushSource


@dataclass(frozen=True)
class FeatureView:
    """Typed features of some entities, read from one source, optionally through a DuckDB SQL
    ``transformation`` (a query whose ``FROM source`` names the source's rows)."""

    name: str
    entities: tuple[str, ...]
    features: tuple[Field, ...]
    source: Source
    timestamp_field: str = "event_timestamp"
    created_timestamp_field: str | None = None
    ttl: timedelta | None = None
    transformation: str | None = None
    online: bool = True
    description: str = ""
    owner: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    #: The entities' join-key names, in entity order: known when ``entities`` are Entity objects,
    #: else filled in by the registry (``dataclasses.replace(view, join_keys=...)``). The offline
    #: store and the online key encoding need them.
    join_keys: tuple[str, ...] = ()

    def __init__(
        self,
        name: str,
        *,
        entities: Sequence[Entity | str],
        features: Sequence[Field] | Mapping[str, ValueType | str],
        source: Source,
        timestamp_field: str = "event_timestamp",
        created_timestamp_field: str | None = None,
        ttl: timedelta | None = None,
        transformation: str | None = None,
        online: bool = True,
        description: str = "",
        owner: str = "",
        tags: Mapping[str, str] | None = None,
        join_keys: Sequence[str] | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "name", check_name("feature view", name))
        names = tuple(e.name if isinstance(e, Entity) else str(e) for e in entities)
        if not names:
            raise InvalidInput(f"feature view {name!r} needs at least one entity", field="entities")
        set_(self, "entities", names)
        if join_keys is None and all(isinstance(e, Entity) for e in entities):
            join_keys = [k for e in entities if isinstance(e, Entity) for k in e.key_names]
        set_(self, "join_keys", tuple(join_keys or ()))
        feats = _fields("features", features)
        if not feats:
            raise InvalidInput(f"feature view {name!r} declares no features", field="features")
        set_(self, "features", feats)
        if not isinstance(source, FileSource | SqlSource | PushSource):
            raise InvalidInput(
                f"feature view {name!r}: source must be a FileSource, SqlSource or PushSource", field="source"
            )
        set_(self, "source", source)
        set_(self, "timestamp_field", check_name("timestamp field", timestamp_field))
        if created_timestamp_field is not None:
            check_name("created timestamp field", created_timestamp_field)
        set_(self, "created_timestamp_field", created_timestamp_field)
        if ttl is not None and (not isinstance(ttl, timedelta) or ttl <= timedelta(0)):
            raise InvalidInput(
                f"feature view {name!r}: ttl must be a positive timedelta or None, got {ttl!r}", field="ttl"
            )
        set_(self, "ttl", ttl)
        set_(self, "transformation", transformation.strip() if transformation else None)
        set_(self, "online", bool(online))
        set_(self, "description", description)
        set_(self, "owner", owner)
        set_(self, "tags", _tags(tags))

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)


#: Importing the feature model must not import pandas (the SDK imports it to log datasets).
OnDemandFunction: TypeAlias = "Callable[[pd.DataFrame], pd.DataFrame]"


@dataclass(frozen=True)
class OnDemandFeatureView:
    """Features computed at request time by a vectorised Python function.

    ``function`` receives one DataFrame whose columns are the features of every input view (plain
    feature names) and the fields of every request source, and returns a DataFrame with the
    declared ``features`` as columns and as many rows. The same function runs offline (over the
    point-in-time frame) and online (over the fetched rows), so both give the same values.
    The registry stores the function's import path and a digest of its source; a function whose
    code changed since ``apply`` is refused until it is applied again.
    """

    name: str
    sources: tuple[FeatureView | RequestSource, ...]
    features: tuple[Field, ...]
    function: OnDemandFunction | None
    function_ref: str
    function_digest: str
    description: str = ""
    owner: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __init__(
        self,
        name: str,
        *,
        sources: Sequence[FeatureView | RequestSource],
        features: Sequence[Field] | Mapping[str, ValueType | str],
        function: OnDemandFunction | None = None,
        function_ref: str | None = None,
        function_digest: str | None = None,
        description: str = "",
        owner: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "name", check_name("on-demand feature view", name))
        if not sources:
            raise InvalidInput(f"on-demand feature view {name!r} needs at least one source", field="sources")
        set_(self, "sources", tuple(sources))
        feats = _fields("features", features)
        if not feats:
            raise InvalidInput(f"on-demand feature view {name!r} declares no features", field="features")
        set_(self, "features", feats)
        if function is None and function_ref is None:
            raise InvalidInput(f"on-demand feature view {name!r} needs a function", field="function")
        set_(self, "function", function)
        set_(self, "function_ref", function_ref or function_reference(function))  # type: ignore[arg-type]
        set_(self, "function_digest", function_digest or function_source_digest(function))  # type: ignore[arg-type]
        set_(self, "description", description)
        set_(self, "owner", owner)
        set_(self, "tags", _tags(tags))

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)


def function_reference(function: Callable[..., Any]) -> str:
    return f"{function.__module__}:{function.__qualname__}"


def function_source_digest(function: Callable[..., Any]) -> str:
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError) as exc:
        raise InvalidInput(f"cannot read the source of {function!r}: {exc}", field="function") from None
    return "sha256:" + hashlib.sha256(source.encode()).hexdigest()


@dataclass(frozen=True)
class FeatureService:
    """A named list of features: the contract a model is trained and served with.

    ``features`` holds references: ``"view"`` (all of a view's features) or ``"view:feature"``.
    """

    name: str
    features: tuple[str, ...]
    description: str = ""
    owner: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __init__(
        self,
        name: str,
        features: Sequence[str | FeatureView | OnDemandFeatureView],
        *,
        description: str = "",
        owner: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> None:
        object.__setattr__(self, "name", check_name("feature service", name))
        refs = tuple(f if isinstance(f, str) else f.name for f in features)
        if not refs:
            raise InvalidInput(f"feature service {name!r} lists no features", field="features")
        for ref in refs:
            parse_ref(ref)
        object.__setattr__(self, "features", refs)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "owner", owner)
        object.__setattr__(self, "tags", _tags(tags))


Definition: TypeAlias = Entity | FeatureView | OnDemandFeatureView | FeatureService | RequestSource


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``"view:feature"`` -> ``("view", "feature")``; ``"view"`` -> ``("view", None)``."""
    view, sep, feature = ref.partition(":")
    if not view or (sep and not feature) or ":" in feature:
        raise InvalidInput(
            f"feature reference must be 'view' or 'view:feature', got {ref!r}", field="features"
        )
    return view, (feature or None)


_VERSIONED_VIEW = re.compile(r"^([A-Za-z_][A-Za-z0-9_]{0,127})(?:@([1-9][0-9]*))?$")


def parse_feature_ref(ref: str) -> tuple[str, int | None, str | None]:
    """``"view@2:feature"`` -> ``("view", 2, "feature")``; the version and the feature are optional."""
    view, feature = parse_ref(ref)
    match = _VERSIONED_VIEW.match(view)
    if match is None:
        raise InvalidInput(
            f"feature reference must be 'view', 'view:feature' or 'view@version:feature', got {ref!r}",
            field="features",
        )
    return match.group(1), (int(match.group(2)) if match.group(2) else None), feature


def kind_of(definition: Definition) -> str:
    return {
        Entity: "entity",
        FeatureView: "feature_view",
        OnDemandFeatureView: "on_demand_feature_view",
        FeatureService: "feature_service",
        RequestSource: "request_source",
    }[type(definition)]


def canonical_json(spec: Mapping[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)


def spec_digest(spec: Mapping[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(spec).encode()).hexdigest()


# --- what the registry tells about definitions and datasets -----------------------------------


@dataclass(frozen=True)
class DefinitionVersion:
    """One immutable version of a definition, as applied."""

    kind: str
    name: str
    version: int
    spec: Mapping[str, Any]
    spec_digest: str
    created_at: int
    created_by: str


@dataclass(frozen=True)
class DefinitionSummary:
    """A definition in the catalog: its latest version and searchable fields."""

    kind: str
    name: str
    latest_version: int
    description: str
    owner: str
    tags: Mapping[str, str]
    entities: tuple[str, ...]
    features: tuple[str, ...]
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class TrainingDataset:
    """A saved point-in-time frame: a Parquet file in the content store plus its lineage."""

    id: str
    name: str
    version: int
    digest: str
    location: str
    schema: tuple[tuple[str, str], ...]
    num_rows: int
    entity_df_digest: str
    feature_versions: Mapping[str, int]
    features: tuple[str, ...]
    feature_service: str | None
    source_files: tuple[tuple[str, str], ...]
    options: Mapping[str, Any]
    created_at: int
    created_by: str
