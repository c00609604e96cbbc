"""Composition root: settings -> backends -> services. The only code that knows which concrete
backend is in use. Building an App connects nothing until a service is called, except that an
embedded database is brought to the current schema (``auto_upgrade``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shipyard.accounts.service import AccountsService
from shipyard.config import Settings
from shipyard.migrations import runner
from shipyard.storage.artifacts import ContentStore, open_store
from shipyard.storage.metadata.database import Database
from shipyard.tracking.service import TrackingService


@dataclass
class App:
    settings: Settings
    db: Database
    content: ContentStore
    tracking: TrackingService
    accounts: AccountsService

    def close(self) -> None:
        self.db.dispose()


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
        tracking=TrackingService(db, content),
        accounts=AccountsService(db),
    )
