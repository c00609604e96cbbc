"""Composition root: settings -> backends -> services. The only code that knows which concrete
backend is in use. Building an App connects nothing until a service is called, except that an
embedded database is brought to the current schema (``auto_upgrade``).

The registry and the feature store are built on first use: they bring pandas, DuckDB and the
model libraries, which a command that only lists runs should not wait for.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.accounts.service import AccountsService
from shipyard.audit.service import AuditService
from shipyard.config import Settings
from shipyard.errors import NotFound
from shipyard.events.service import EventLog
from shipyard.migrations import runner
from shipyard.provenance import DomainLineage, FeatureStoreOrigins
from shipyard.registry.entities import TrainingData
from shipyard.registry.ports import RunFacts
from shipyard.storage.artifacts import ContentStore, open_store
from shipyard.storage.metadata.database import Database
from shipyard.tracking import tags
from shipyard.tracking.service import TrackingService

if TYPE_CHECKING:
    from shipyard.features.service import FeatureStore
    from shipyard.registry.service import RegistryService


@dataclass
class App:
    settings: Settings
    db: Database
    content: ContentStore
    tracking: TrackingService
    accounts: AccountsService
    audit: AuditService
    events: EventLog

    @cached_property
    def registry(self) -> RegistryService:
        from shipyard.registry.service import RegistryService

        return RegistryService(
            self.db,
            self.content,
            TrackingRunLookup(self.tracking),
            trust_pickle=self.settings.trust_pickle,
            origins=FeatureStoreOrigins(self.db),
        )

    @cached_property
    def features(self) -> FeatureStore:
        return build_feature_store(self.settings, self.db, self.content)

    def close(self) -> None:
        if "features" in self.__dict__:  # built: close its online store
            self.features.close()
        self.db.dispose()


class TrackingRunLookup:
    """The registry's view of runs (:class:`shipyard.registry.ports.RunLookup`), from tracking."""

    def __init__(self, tracking: TrackingService) -> None:
        self.tracking = tracking

    def run_facts(self, run_id: str) -> RunFacts:
        run = self.tracking.get_run(run_id)
        training = next(
            (d.dataset for d in self.tracking.run_datasets(run_id) if d.context == "training"), None
        )
        return RunFacts(
            run_id=run.id,
            params=dict(run.params),
            metrics={k: m.value for k, m in run.metrics.items()},
            git_commit=run.environment.git_commit if run.environment else None,
            training_data=None
            if training is None
            else TrainingData(training.name, training.digest, training.location, training.num_rows),
            feature_service=run.tags.get(tags.FEATURE_SERVICE),
            validated_by=f"run tag {tags.VALIDATION}={tags.VALIDATION_PASSED}"
            if run.tags.get(tags.VALIDATION) == tags.VALIDATION_PASSED
            else None,
        )

    def artifact_digest(self, run_id: str, path: str) -> str:
        try:
            return self.tracking.artifact(run_id, path).digest
        except NotFound as exc:
            raise NotFound(str(exc), field="artifact_path" if exc.field == "path" else exc.field) from None


def open_database(settings: Settings) -> Database:
    """The metadata database of ``settings`` (creating the folder of an embedded one), unchecked."""
    url = settings.resolved_db_url()
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return Database(url)


def build_app(settings: Settings, *, migrate: bool = True) -> App:
    db = open_database(settings)
    if migrate:
        runner.ensure_current(db, auto_upgrade=settings.auto_upgrade)
    content = ContentStore(
        open_store(settings.resolved_artifacts(), s3_endpoint_url=settings.s3_endpoint_url)
    )
    return App(
        settings=settings,
        db=db,
        content=content,
        tracking=TrackingService(db, content, [DomainLineage()]),
        accounts=AccountsService(db),
        audit=AuditService(db),
        events=EventLog(db),
    )


def build_feature_store(settings: Settings, db: Database, content: ContentStore) -> FeatureStore:
    """The feature store; the online store connects on first use, DuckDB on each query."""
    from shipyard.features.offline import OfflineStore
    from shipyard.features.service import FeatureStore
    from shipyard.storage.kv import open_online_store

    offline = OfflineStore(
        artifacts=content.store,
        memory_limit=settings.offline_memory_limit,
        temp_directory=settings.home / "tmp" / "duckdb",
        s3_endpoint_url=settings.s3_endpoint_url,
    )
    online = open_online_store(settings.resolved_online_store())
    return FeatureStore(db, content, content.store, offline, online)
