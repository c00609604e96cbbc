"""The feature catalog's pages: every definition (with a search box) and one definition.

Each route declares the API's gate, ``authorize("features.read")``. The search box takes words
and ``key:value`` terms: ``entity:driver``, ``owner:ops``, ``tag:team=ops``, ``kind:feature_view``;
words match names, descriptions, owners, tags, feature names and entity names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from shipyard.core.clock import to_datetime
from shipyard.errors import InvalidInput
from shipyard.features.model import DefinitionSummary, DefinitionVersion
from shipyard.features.service import Description, FeatureStore
from shipyard.server.deps import Shipyard, authorize
from shipyard.server.ui.rendering import render
from shipyard.server.ui.routing import UI_PREFIX, UIRoute

KINDS = ("feature_view", "on_demand_feature_view", "feature_service", "entity", "request_source")

router = APIRouter(
    prefix=f"{UI_PREFIX}/features",
    route_class=UIRoute,
    include_in_schema=False,
    dependencies=[Depends(authorize("features.read"))],
)


def get_features(app: Shipyard) -> FeatureStore:
    return app.features


Features = Annotated[FeatureStore, Depends(get_features)]


# -- the catalog --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogQuery:
    """The search box, parsed: free words and ``key:value`` filters."""

    text: str = ""
    kind: str | None = None
    entity: str | None = None
    owner: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, q: str) -> CatalogQuery:
        words: list[str] = []
        found: dict[str, Any] = {"tags": {}}
        for term in q.split():
            key, sep, value = term.partition(":")
            key = key.lower()
            if not sep or key not in ("kind", "entity", "owner", "tag") or not value:
                words.append(term)
            elif key == "tag":
                name, eq, tag_value = value.partition("=")
                if not eq or not name:
                    raise InvalidInput(f"search term {term!r}: write tag:KEY=VALUE", field="q")
                found["tags"][name] = tag_value
            elif key == "kind" and value not in KINDS:
                raise InvalidInput(f"search term {term!r}: kind is one of {', '.join(KINDS)}", field="q")
            else:
                found[key] = value
        return cls(text=" ".join(words), **found)


@dataclass(frozen=True)
class CatalogRow:
    summary: DefinitionSummary
    updated: datetime


@dataclass(frozen=True)
class Catalog:
    q: str
    rows: Sequence[CatalogRow] = ()
    error: str | None = None  # a malformed search, shown above the table


def catalog(features: FeatureStore, q: str) -> Catalog:
    try:
        query = CatalogQuery.parse(q)
    except InvalidInput as exc:
        return Catalog(q, error=exc.message)
    found = features.list_definitions(
        kind=query.kind, entity=query.entity, owner=query.owner, tags=query.tags or None
    )
    if query.text:
        text = query.text.lower()
        # The store searches names, descriptions, owners, tags and feature names; entities here.
        matched = {(s.kind, s.name) for s in features.search(query.text, kind=query.kind)}
        found = [
            s for s in found if (s.kind, s.name) in matched or any(text in e.lower() for e in s.entities)
        ]
    return Catalog(q, [CatalogRow(s, to_datetime(s.updated_at)) for s in found])


# -- one definition -----------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionRow:
    version: DefinitionVersion
    created: datetime


@dataclass(frozen=True)
class StatisticsRow:
    feature: str
    dtype: str
    count: int
    nulls: int
    min: float | None
    mean: float | None
    median: float | None
    max: float | None
    std: float | None
    top: Sequence[tuple[str, int]]
    #: ``{"edges": [...], "counts": [...]}`` of a numeric feature, drawn as a histogram.
    histogram: Mapping[str, Sequence[float]] | None = None


@dataclass(frozen=True)
class Statistics:
    view_version: int
    computed: datetime
    start: datetime | None
    end: datetime | None
    rows: Sequence[StatisticsRow]


@dataclass(frozen=True)
class Watermark:
    view_version: int
    at: datetime


@dataclass(frozen=True)
class DefinitionPage:
    summary: DefinitionSummary
    spec: Mapping[str, Any]
    versions: Sequence[VersionRow]
    statistics: Statistics | None
    watermark: Watermark | None
    updated: datetime


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def statistics_row(stat: Mapping[str, Any]) -> StatisticsRow:
    quantiles = stat.get("quantiles") or {}
    return StatisticsRow(
        feature=str(stat.get("feature", "")),
        dtype=str(stat.get("dtype", "")),
        count=int(stat.get("count") or 0),
        nulls=int(stat.get("nulls") or 0),
        min=_number(stat.get("min")),
        mean=_number(stat.get("mean")),
        median=_number(quantiles.get("p50")),
        max=_number(stat.get("max")),
        std=_number(stat.get("std")),
        top=[(str(v), int(n)) for v, n in (stat.get("top_values") or [])][:5],
        histogram=_histogram(stat.get("histogram")),
    )


def _histogram(value: object) -> Mapping[str, Sequence[float]] | None:
    if not isinstance(value, Mapping):
        return None
    edges, counts = value.get("edges"), value.get("counts")
    if not isinstance(edges, list) or not isinstance(counts, list) or len(edges) != len(counts) + 1:
        return None
    return {"edges": [float(e) for e in edges], "counts": [float(c) for c in counts]}


def definition_page(features: FeatureStore, name: str, kind: str | None) -> DefinitionPage:
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, got {kind!r}", field="kind")
    described: Description = features.describe(name, kind=kind)
    stats = described.statistics
    mark = described.watermark
    return DefinitionPage(
        summary=described.summary,
        spec=described.spec,
        versions=[VersionRow(v, to_datetime(v.created_at)) for v in reversed(described.versions)],
        statistics=None
        if stats is None
        else Statistics(
            stats.view_version,
            to_datetime(stats.computed_at),
            to_datetime(stats.start_ms),
            to_datetime(stats.end_ms),
            [statistics_row(s) for s in stats.stats],
        ),
        watermark=None if mark is None else Watermark(mark[0], to_datetime(mark[1])),
        updated=to_datetime(described.summary.updated_at),
    )


def ttl(seconds: float | None) -> str:
    """``12h``, ``1d 6h``, ``90s``; "none" when features never expire."""
    if seconds is None:
        return "none (never expires)"
    rest = round(seconds)
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        amount, rest = divmod(rest, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return " ".join(parts) or "0s"


# -- routes -------------------------------------------------------------------------------------


@router.get("")
def features(
    request: Request, store: Features, q: Annotated[str, Query(max_length=1_000)] = ""
) -> HTMLResponse:
    found = catalog(store, q.strip())
    return render(request, "features.html", {"catalog": found}, status_code=422 if found.error else 200)


@router.get("/{name}")
def definition(
    request: Request,
    name: str,
    store: Features,
    kind: Annotated[str | None, Query(max_length=50)] = None,
) -> HTMLResponse:
    page = definition_page(store, name, kind or None)
    return render(request, "feature_view.html", {"page": page, "ttl": ttl})
