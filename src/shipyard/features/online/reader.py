"""Online reads: the newest materialized values of some features for some entities.

``OnlineReader.get`` groups the wanted features by view, encodes each entity row's key, does one
batched read per view, decodes, nulls values older than the view's TTL (relative to now, status
``"expired"``) and gives unknown entities nulls (status ``"not_found"``), never an error. On-demand
views then run through :func:`shipyard.features.ondemand.apply_on_demand`, the code the offline
store runs too. What a ``ResolvedFeatures`` needs (namespaces, key encoders, decoders, column
positions) is worked out once and cached, so a one-entity read is a handful of dictionary lookups,
one key lookup in the store and one ``struct.unpack``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias, cast

import pandas as pd
import pyarrow as pa

from shipyard.core.clock import now_ms
from shipyard.errors import InvalidInput
from shipyard.features.model import FeatureView
from shipyard.features.ondemand import apply_on_demand, request_fields
from shipyard.features.online.codec import ValueCodec
from shipyard.features.online.keys import KeyEncoder
from shipyard.features.selection import OnDemandSelection, ResolvedFeatures
from shipyard.storage.kv import OnlineStore

PRESENT = "present"
NOT_FOUND = "not_found"
EXPIRED = "expired"

EntityRows: TypeAlias = Sequence[Mapping[str, object]] | pd.DataFrame
RequestData: TypeAlias = Mapping[str, Sequence[object]] | Sequence[Mapping[str, object]] | pd.DataFrame

PLAN_CACHE_SIZE = 256


def namespace(view: FeatureView, version: int) -> str:
    """The online store namespace of one view version (a new version starts empty)."""
    return f"{view.name}.v{version}"


@dataclass(frozen=True)
class OnlineResponse:
    """Columns in request order: the entity rows' join keys, then the features. ``statuses`` has
    one dict per entity row: feature column -> ``"present" | "not_found" | "expired"``."""

    columns: dict[str, list[object]]
    statuses: list[dict[str, str]]

    def to_dataframe(self) -> pd.DataFrame:
        return pd.DataFrame(self.columns)

    def to_dicts(self) -> list[dict[str, object]]:
        names = list(self.columns)
        return [dict(zip(names, values, strict=True)) for values in zip(*self.columns.values(), strict=True)]


@dataclass(frozen=True)
class _ViewPlan:
    name: str
    namespace: str
    keys: KeyEncoder
    codec: ValueCodec
    ttl_ms: int | None
    #: (position in the decoded record, output column) of the features the caller asked for.
    outputs: tuple[tuple[int, str], ...]
    #: status -> {output column: status}, merged into each row's statuses.
    templates: dict[str, dict[str, str]]


@dataclass(frozen=True)
class _OnDemandPlan:
    selection: OnDemandSelection
    #: Indexes (into the view plans) of the views it reads.
    inputs: tuple[int, ...]
    outputs: tuple[tuple[str, str], ...]  # (feature, output column)


@dataclass(frozen=True)
class _Plan:
    views: tuple[_ViewPlan, ...]
    on_demand: tuple[_OnDemandPlan, ...]
    entity_columns: tuple[str, ...]
    output_columns: tuple[str, ...]


class OnlineReader:
    def __init__(self, store: OnlineStore, *, clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.clock = clock
        self._plans: OrderedDict[int, tuple[ResolvedFeatures, _Plan]] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self,
        resolved: ResolvedFeatures,
        entity_rows: EntityRows,
        *,
        request_data: RequestData | None = None,
    ) -> OnlineResponse:
        plan = self._plan(resolved)
        rows = _rows(entity_rows)
        n = len(rows)
        columns: dict[str, list[object]] = {c: [row.get(c) for row in rows] for c in plan.entity_columns}
        empty: list[object] = [None] * n
        columns.update(dict.fromkeys(plan.output_columns, empty))  # fixes the order; replaced below
        statuses: list[dict[str, str]] = [{} for _ in range(n)]
        now = self.clock()
        view_status: list[list[str]] = []
        records: list[list[tuple[object, ...] | None]] = []
        for view in plan.views:
            encode = view.keys.encode
            found = self.store.read(view.namespace, [encode(row, i) for i, row in enumerate(rows)])
            oldest = None if view.ttl_ms is None else now - view.ttl_ms
            decode = view.codec.decode
            row_status = [
                NOT_FOUND if hit is None else EXPIRED if oldest is not None and hit[1] < oldest else PRESENT
                for hit in found
            ]
            decoded = [
                decode(hit[0]) if status is PRESENT else None  # type: ignore[index]
                for hit, status in zip(found, row_status, strict=True)
            ]
            for position, column in view.outputs:
                columns[column] = [None if r is None else r[position] for r in decoded]
            templates = view.templates
            for target, status in zip(statuses, row_status, strict=True):
                target.update(templates[status])
            view_status.append(row_status)
            records.append(decoded)
        for odfv in plan.on_demand:
            self._run_on_demand(odfv, plan, records, view_status, rows, request_data, columns, statuses)
        return OnlineResponse(columns, statuses)

    # ---- on-demand views ---------------------------------------------------------------------

    def _run_on_demand(
        self,
        odfv: _OnDemandPlan,
        plan: _Plan,
        records: list[list[tuple[object, ...] | None]],
        view_status: list[list[str]],
        rows: list[Mapping[str, object]],
        request_data: RequestData | None,
        columns: dict[str, list[object]],
        statuses: list[dict[str, str]],
    ) -> None:
        n = len(rows)
        if isinstance(request_data, pd.DataFrame):
            request_data = {str(c): request_data[c].tolist() for c in request_data.columns}
        arrays: dict[str, pa.Array] = {}
        for index in odfv.inputs:
            view = plan.views[index]
            for position, feature in enumerate(view.codec.features):
                if feature.name in arrays:  # the first view wins, as offline
                    continue
                values = [None if r is None else r[position] for r in records[index]]
                arrays[feature.name] = pa.array(values, type=feature.dtype.arrow())
        for name in request_fields(odfv.selection.view):
            arrays[name] = pa.array(_request_column(name, request_data, rows, n), from_pandas=True)
        frame = (
            pa.table(arrays).to_pandas(types_mapper=pd.ArrowDtype) if arrays else pd.DataFrame(index=range(n))
        )
        result = apply_on_demand(odfv.selection, frame)
        for output, column in odfv.outputs:
            columns[column] = pa.array(result[output]).to_pylist()
        for i in range(n):
            status = PRESENT
            for index in odfv.inputs:
                s = view_status[index][i]
                if s == NOT_FOUND or (s == EXPIRED and status == PRESENT):
                    status = s
            for _, column in odfv.outputs:
                statuses[i][column] = status

    # ---- plans -------------------------------------------------------------------------------

    def _plan(self, resolved: ResolvedFeatures) -> _Plan:
        cached = self._plans.get(id(resolved))
        if cached is not None and cached[0] is resolved:
            return cached[1]
        plan = _build_plan(resolved)
        with self._lock:
            self._plans[id(resolved)] = (resolved, plan)
            while len(self._plans) > PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)
        return plan


def _build_plan(resolved: ResolvedFeatures) -> _Plan:
    wanted = set(resolved.output_columns)
    views: list[_ViewPlan] = []
    for s in resolved.views:
        codec = ValueCodec(s.view.features)
        positions = {name: i for i, name in enumerate(codec.names)}
        outputs: list[tuple[int, str]] = []
        for name in s.features:
            if name not in positions:
                raise InvalidInput(f"feature view {s.view.name!r} has no feature {name!r}", field="features")
            column = resolved.column_name(s.view.name, name)
            if column in wanted:
                outputs.append((positions[name], column))
        views.append(
            _ViewPlan(
                name=s.view.name,
                namespace=namespace(s.view, s.version),
                keys=KeyEncoder(s.view.join_keys or resolved.entity_columns),
                codec=codec,
                ttl_ms=None if s.view.ttl is None else int(s.view.ttl.total_seconds() * 1000),
                outputs=tuple(outputs),
                templates={
                    s: dict.fromkeys((c for _, c in outputs), s) for s in (PRESENT, NOT_FOUND, EXPIRED)
                },
            )
        )
    index = {v.name: i for i, v in enumerate(views)}
    on_demand = []
    for od in resolved.on_demand:
        inputs = []
        for source in od.view.sources:
            if isinstance(source, FeatureView):
                if source.name not in index:
                    raise InvalidInput(
                        f"on-demand feature view {od.view.name!r} reads {source.name!r}, which was not resolved",
                        field="features",
                    )
                inputs.append(index[source.name])
        named = tuple((f, c) for f in od.features if (c := resolved.column_name(od.view.name, f)) in wanted)
        on_demand.append(_OnDemandPlan(od, tuple(inputs), named))
    return _Plan(
        views=tuple(views),
        on_demand=tuple(on_demand),
        entity_columns=resolved.entity_columns,
        output_columns=resolved.output_columns,
    )


def _rows(entity_rows: EntityRows) -> list[Mapping[str, object]]:
    if isinstance(entity_rows, pd.DataFrame):
        return cast(list[Mapping[str, object]], entity_rows.to_dict("records"))
    if isinstance(entity_rows, Mapping | str | bytes):
        raise InvalidInput(
            "entity_rows must be a list of {join key: value} mappings or a DataFrame", field="entity_rows"
        )
    rows = entity_rows if isinstance(entity_rows, list) else list(entity_rows)
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidInput(
                f"entity row {i} must be a mapping of join key to value, got {row!r}", field="entity_rows"
            )
    return rows


def _request_column(
    name: str, request_data: RequestData | None, rows: list[Mapping[str, object]], n: int
) -> list[object]:
    if isinstance(request_data, Mapping) and name in request_data:
        values = list(request_data[name])
        if len(values) != n:
            raise InvalidInput(
                f"request_data[{name!r}] has {len(values)} values for {n} entity rows",
                field=f"request_data.{name}",
            )
        return values
    if request_data is not None and not isinstance(request_data, Mapping):
        if len(request_data) != n:
            raise InvalidInput(
                f"request_data has {len(request_data)} rows for {n} entity rows", field="request_data"
            )
        if all(name in r for r in request_data):
            return [r[name] for r in request_data]
    if all(name in r for r in rows):
        return [r[name] for r in rows]
    raise InvalidInput(
        f"the on-demand features need the request field {name!r}: give it in request_data or in every entity row",
        field=f"request_data.{name}",
    )
