"""The feature store facade: what the SDK, the CLI and the server call.

Definitions are planned and applied (:mod:`.planner`, :mod:`.catalog`), features resolved to
registered view versions (:mod:`.resolver`), and the work handed to the offline store (historical
retrieval, samples, statistics), the online reader and materialization. Each call that writes
metadata does so in one transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
from sqlalchemy.exc import IntegrityError

from shipyard.audit import log as audit_log
from shipyard.core.clock import now_ms
from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.events import log as event_log
from shipyard.features import catalog, pushing, resolver, stored_statistics
from shipyard.features import materialize as materialization
from shipyard.features.api import FeatureServing
from shipyard.features.datasets import TrainingDatasets, as_arrow
from shipyard.features.events import FeatureApplied
from shipyard.features.materialize import MaterializationResult
from shipyard.features.model import (
    Definition,
    DefinitionSummary,
    DefinitionVersion,
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    RequestSource,
    TrainingDataset,
)
from shipyard.features.offline import OfflineStore
from shipyard.features.online import OnlineReader, OnlineResponse
from shipyard.features.planner import Plan, make_plan
from shipyard.features.repo import load_repo
from shipyard.features.selection import ResolvedFeatures, ViewSelection
from shipyard.features.specs import from_spec, redacted
from shipyard.features.stored_statistics import StoredStatistics
from shipyard.storage.artifacts import ContentStore
from shipyard.storage.artifacts.base import ArtifactStore
from shipyard.storage.metadata.database import Database

if TYPE_CHECKING:
    from shipyard.features.statistics import FeatureStatistics
    from shipyard.storage.kv import OnlineStore

Progress = Callable[[str, int, int | None], None]
_KIND_ORDER = ("feature_view", "on_demand_feature_view", "feature_service", "entity", "request_source")


@dataclass(frozen=True)
class Description:
    """Everything the catalog knows about one definition."""

    summary: DefinitionSummary
    versions: tuple[DefinitionVersion, ...]
    statistics: StoredStatistics | None
    #: ``(view version, epoch ms)`` up to which incremental materialization has run.
    watermark: tuple[int, int] | None

    @property
    def spec(self) -> Mapping[str, Any]:
        """The latest version's spec, passwords in source URLs masked."""
        return redacted(self.versions[-1].spec)


class FeatureStore(FeatureServing):
    """Definitions, retrieval (offline and online), materialization and the catalog; in process,
    the :class:`~shipyard.features.api.FeatureServing` a server's remote client also offers."""

    RESOLVE_CACHE_SECONDS = 5.0

    def __init__(
        self,
        db: Database,
        content: ContentStore,
        artifacts: ArtifactStore,
        offline: OfflineStore,
        online: OnlineStore,
    ) -> None:
        self.db = db
        self.content = content
        self.artifacts = artifacts
        self.offline = offline
        self.online = online
        self.datasets = TrainingDatasets(db, content)
        self._reader: OnlineReader | None = None
        self._resolved: dict[tuple[Any, ...], tuple[float, ResolvedFeatures]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the online store's connections (it reopens on next use)."""
        self.online.close()

    # -- definitions -----------------------------------------------------------------------------

    def plan(self, definitions: Sequence[Definition] | str | Path) -> Plan:
        """Validate the definitions (or the feature repository at a path) and diff them against
        the registry; nothing is written. Problems raise one InvalidInput listing them all."""
        items = _definitions(definitions)
        with self.db.read() as conn:
            registered = catalog.latest_versions(conn)
        return make_plan(items, registered, self.offline.schema)

    def apply(self, definitions: Sequence[Definition] | str | Path, *, actor: str) -> Plan:
        """Plan, then register a new version of every added or changed definition, in one
        transaction, with an audit record each. Returns the plan that was applied."""
        plan = self.plan(definitions)
        try:
            with self.db.write() as conn:
                current = catalog.latest_versions(conn)
                now = now_ms()
                records: list[dict[str, Any]] = []
                applied: list[FeatureApplied] = []
                for change in plan.to_write:
                    before = current.get((change.kind, change.name))
                    if before is not None and before.spec_digest == change.digest:
                        continue  # applied meanwhile by someone else
                    version = catalog.write_version(
                        conn,
                        kind=change.kind,
                        name=change.name,
                        spec=change.spec,
                        digest=change.digest,
                        actor=actor,
                        now=now,
                    )
                    applied.append(
                        FeatureApplied(
                            kind=change.kind,
                            name=change.name,
                            version=version,
                            previous=None if before is None else before.version,
                        )
                    )
                    records.append(
                        {
                            "object_type": change.kind,
                            "object_id": f"{change.name}/{version}",
                            "before": None
                            if before is None
                            else {"version": before.version, "spec": redacted(before.spec)},
                            "after": {"version": version, "spec": redacted(change.spec)},
                        }
                    )
                # Audit appends come last in the transaction (see shipyard.audit.log).
                for record in records:
                    audit_log.append(conn, actor=actor, action="feature.apply", **record)
                for event in applied:
                    event_log.publish(conn, event, actor=actor)
        except IntegrityError:
            raise Conflict(
                "feature definitions were applied concurrently by someone else; run apply again",
                field="definitions",
            ) from None
        self._forget_resolved()
        return plan

    # -- catalog ---------------------------------------------------------------------------------

    def list_definitions(
        self,
        *,
        kind: str | None = None,
        entity: str | None = None,
        tags: Mapping[str, str] | None = None,
        owner: str | None = None,
    ) -> list[DefinitionSummary]:
        with self.db.read() as conn:
            return catalog.list_definitions(conn, kind=kind, entity=entity, tags=tags, owner=owner)

    def search(self, text: str, *, kind: str | None = None) -> list[DefinitionSummary]:
        """Definitions whose name, description, owner, tags or feature names contain ``text``."""
        if not text or not text.strip():
            raise InvalidInput("search text is empty", field="text")
        with self.db.read() as conn:
            return catalog.list_definitions(conn, kind=kind, text=text.strip())

    def describe(self, name: str, *, kind: str | None = None) -> Description:
        with self.db.read() as conn:
            found = [s for s in catalog.list_definitions(conn, kind=kind) if s.name == name]
            if not found:
                raise NotFound(
                    f"no feature definition named {name!r}; see `shipyard features list`", field="name"
                )
            summary = min(found, key=lambda s: _KIND_ORDER.index(s.kind))
            versions = catalog.history(conn, summary.kind, name)
            is_view = summary.kind == "feature_view"
            stats = stored_statistics.latest(conn, name) if is_view else None
            watermark = stored_statistics.watermark(conn, name) if is_view else None
        return Description(summary, tuple(versions), stats, watermark)

    def get_view(self, name: str, version: int | None = None) -> FeatureView:
        """A registered feature view (the latest version unless ``version`` is given)."""
        with self.db.read() as conn:
            stored = catalog.get_version(conn, ("feature_view",), name, version)
        view = from_spec(stored.spec)
        assert isinstance(view, FeatureView)
        return view

    # -- resolution ------------------------------------------------------------------------------

    def resolve(
        self,
        features: Sequence[str] | None = None,
        service: str | None = None,
        *,
        full_feature_names: bool = False,
        versions: Mapping[str, int] | None = None,
    ) -> ResolvedFeatures:
        """The registered views, versions and columns behind ``features`` or ``service``.
        Cached in process for a few seconds (the online path resolves on every request)."""
        key = (
            tuple(features) if features is not None and not isinstance(features, str) else features,
            service,
            full_feature_names,
            tuple(sorted((versions or {}).items())),
        )
        now = time.monotonic()
        hit = self._resolved.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.db.read() as conn:
            resolved = resolver.resolve(
                conn, features, service, full_feature_names=full_feature_names, versions=versions
            )
        with self._lock:
            if len(self._resolved) > 1024:
                self._resolved.clear()
            self._resolved[key] = (now + self.RESOLVE_CACHE_SECONDS, resolved)
        return resolved

    def _forget_resolved(self) -> None:
        with self._lock:
            self._resolved.clear()

    # -- offline ---------------------------------------------------------------------------------

    def get_historical_features(
        self,
        entity_df: pd.DataFrame | pa.Table,
        features: Sequence[str] | None = None,
        service: str | None = None,
        *,
        timestamp_column: str = "event_timestamp",
        full_feature_names: bool = False,
        respect_created_timestamp: bool = True,
        versions: Mapping[str, int] | None = None,
    ) -> pd.DataFrame:
        """The point-in-time correct frame: every entity row, with the features as of its
        timestamp (semantics: :mod:`shipyard.features.model`)."""
        resolved = self.resolve(features, service, full_feature_names=full_feature_names, versions=versions)
        table = self.offline.historical(
            entity_df,
            resolved,
            timestamp_column=timestamp_column,
            full_feature_names=full_feature_names,
            respect_created_timestamp=respect_created_timestamp,
        )
        return table.to_pandas()

    def save_dataset(
        self,
        name: str,
        data: pd.DataFrame | pa.Table,
        resolved: ResolvedFeatures,
        entity_df: pd.DataFrame | pa.Table,
        *,
        actor: str = "unknown",
        options: Mapping[str, Any] | None = None,
    ) -> TrainingDataset:
        """Store ``data`` (a frame built from ``resolved``) as the next version of the training
        dataset ``name``, with its lineage: view versions, source files, entity frame digest."""
        files: list[tuple[str, str, str]] = []  # (path, fingerprint, the view that read it)
        for selection in resolved.views:
            view = selection.view
            files.extend((path, mark, view.name) for path, mark in self.offline.source_files(view))
        return self.datasets.save(
            name,
            data,
            entity_df=entity_df,
            feature_versions=resolved.versions,
            features=resolver.refs_with_versions(resolved),
            feature_service=resolved.service,
            source_files=files,
            options={"full_feature_names": resolved.full_feature_names, **(options or {})},
            actor=actor,
            now=now_ms(),
        )

    def sample(
        self, view: str, n: int = 10, start: datetime | None = None, end: datetime | None = None
    ) -> pa.Table:
        """Up to ``n`` rows of a view between ``start`` and ``end``, read from its source."""
        if n <= 0:
            raise InvalidInput(f"n must be a positive number of rows, got {n}", field="n")
        return self.offline.sample(self.get_view(view), n, start, end)

    # -- statistics ------------------------------------------------------------------------------

    def compute_statistics(
        self,
        view: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        materialization_id: str | None = None,
    ) -> list[FeatureStatistics]:
        """Compute a view's feature statistics from its source and store them."""
        with self.db.read() as conn:
            stored = catalog.get_version(conn, ("feature_view",), view)
        definition = from_spec(stored.spec)
        assert isinstance(definition, FeatureView)
        return self._store_statistics(definition, stored.version, start, end, materialization_id)

    def _store_statistics(
        self,
        definition: FeatureView,
        version: int,
        start: datetime | None,
        end: datetime | None,
        materialization_id: str | None,
    ) -> list[FeatureStatistics]:
        """Compute the statistics of ``definition`` (version ``version`` of its view) and store them."""
        stats = self.offline.statistics(definition, start, end)
        with self.db.write() as conn:
            stored_statistics.record(
                conn,
                view_name=definition.name,
                view_version=version,
                stats=[s.to_dict() for s in stats],
                now=now_ms(),
                materialization_id=materialization_id,
                start_ms=_ms(start),
                end_ms=_ms(end),
            )
        return stats

    def latest_statistics(self, view: str) -> StoredStatistics | None:
        """The newest stored statistics of a view (the drift reference), or None."""
        with self.db.read() as conn:
            catalog.get_version(conn, ("feature_view",), view)
            return stored_statistics.latest(conn, view)

    # -- online ----------------------------------------------------------------------------------

    @property
    def reader(self) -> OnlineReader:
        if self._reader is None:
            self._reader = OnlineReader(self.online)
        return self._reader

    def get_online_features(
        self,
        features: Sequence[str] | None = None,
        service: str | None = None,
        *,
        entity_rows: Sequence[Mapping[str, object]] | pd.DataFrame,
        request_data: Mapping[str, Sequence[object]] | pd.DataFrame | None = None,
        full_feature_names: bool = False,
    ) -> OnlineResponse:
        """The newest materialized values for each entity row (unknown entity or a value older
        than the TTL: null, with a per-row status)."""
        resolved = self.resolve(features, service, full_feature_names=full_feature_names)
        return self.reader.get(resolved, entity_rows, request_data=request_data)

    def materialize(
        self,
        start: datetime,
        end: datetime,
        views: Sequence[str] | None = None,
        *,
        progress: Progress | None = None,
    ) -> list[MaterializationResult]:
        """Write the newest row per entity key with ``start <= event_ts < end`` to the online
        store, then store each view's statistics over that window."""
        if start >= end:
            raise InvalidInput(f"start ({start}) must be before end ({end})", field="start")
        selections = self._online_views(views)
        results = materialization.materialize(
            self.db, self.offline, self.online, selections, start, end, progress=progress
        )
        self._statistics_after(selections, results)
        return results

    def materialize_incremental(
        self,
        end: datetime | None = None,
        views: Sequence[str] | None = None,
        *,
        progress: Progress | None = None,
    ) -> list[MaterializationResult]:
        """Materialize each view from its stored watermark up to ``end`` (default: now)."""
        selections = self._online_views(views)
        results = materialization.materialize_incremental(
            self.db, self.offline, self.online, selections, end, progress=progress
        )
        self._statistics_after(selections, results)
        return results

    def _online_views(self, names: Sequence[str] | None) -> list[ViewSelection]:
        with self.db.read() as conn:
            every = names is None
            wanted = (
                [s.name for s in catalog.list_definitions(conn, kind="feature_view")]
                if names is None
                else names
            )
            selections: list[ViewSelection] = []
            for name in wanted:
                stored = catalog.get_version(conn, ("feature_view",), name)
                view = from_spec(stored.spec)
                assert isinstance(view, FeatureView)
                if view.online or not every:
                    selections.append(ViewSelection(view, stored.version, view.feature_names))
        if not selections:
            raise InvalidInput("no feature views to materialize; apply some first", field="views")
        return selections

    def _statistics_after(
        self, selections: Sequence[ViewSelection], results: Sequence[MaterializationResult]
    ) -> None:
        """Each successful run's statistics, of the view version it materialized (not the newest
        one: a definition applied meanwhile describes other features), without reading it again."""
        materialized = {(s.view.name, s.version): s.view for s in selections}
        for result in results:
            if result.status == materialization.SUCCEEDED and result.rows_read:
                view = materialized[(result.view_name, result.view_version)]
                self._store_statistics(view, result.view_version, result.start, result.end, result.id)

    def push(self, source: str, rows: pd.DataFrame | pa.Table) -> int:
        """Append ``rows`` to a push source: kept offline (visible to retrieval at once) and
        written to the online store of every online view reading the source without a
        transformation (a transformed view's rows reach it by materialization). Returns the
        row count."""
        table = as_arrow(rows, "rows")
        with self.db.read() as conn:
            push_source, views = pushing.push_views(conn, source)
        count = self.offline.append_push(push_source, table)
        for selection in views:
            if selection.view.online and not selection.view.transformation:
                materialization.write_rows(self.online, selection, pushing.online_rows(selection.view, table))
        return count

    def push_records(self, source: str, records: Sequence[Mapping[str, object]]) -> int:
        """:meth:`push` for JSON-like rows (timestamps as ISO-8601 strings or datetimes), typed by
        the push source's schema."""
        with self.db.read() as conn:
            push_source, _ = pushing.push_views(conn, source)
        return self.push(source, pushing.records_table(push_source, records))


def _definitions(definitions: Sequence[Definition] | str | Path) -> list[Definition]:
    if isinstance(definitions, str | Path):
        return load_repo(definitions)
    items = list(definitions)
    for d in items:
        if not isinstance(d, Entity | FeatureView | OnDemandFeatureView | FeatureService | RequestSource):
            raise InvalidInput(f"not a feature definition: {d!r}", field="definitions")
    return items


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)
