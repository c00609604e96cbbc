"""The SDK entry point. Embedded mode calls the domain services in process; remote mode (when
``SHIPYARD_URL`` is set) talks to a Shipyard server over HTTP. Both expose the same
:class:`~shipyard.tracking.api.TrackingAPI`, so code does not change between them."""

from __future__ import annotations

import getpass
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from shipyard.client import environment, lifecycle
from shipyard.client.run import ActiveRun
from shipyard.config import Settings, load_settings
from shipyard.errors import ConfigError, Conflict
from shipyard.tracking.api import TrackingAPI
from shipyard.tracking.model import Run

if TYPE_CHECKING:
    from shipyard.accounts.service import AccountsService
    from shipyard.app import App
    from shipyard.audit.service import AuditService
    from shipyard.client.events import EventFeed
    from shipyard.client.http import ServerConnection
    from shipyard.client.remote_deployments import RemoteDeployments
    from shipyard.client.remote_features import RemoteFeatures
    from shipyard.client.remote_pipelines import RemotePipelines
    from shipyard.client.remote_registry import RemoteRegistry
    from shipyard.features.api import FeatureServing
    from shipyard.features.service import FeatureStore
    from shipyard.monitoring.api import MonitoringAPI
    from shipyard.pipelines.api import PipelineAPI
    from shipyard.pipelines.triggers.api import TriggersAPI
    from shipyard.pipelines.triggers.scheduler import Scheduler
    from shipyard.registry.api import RegistryAPI
    from shipyard.serving.api import DeploymentsAPI
    from shipyard.storage.metadata.database import Database


class Client:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else load_settings()
        self._app: App | None = None  # built on first use, so `db upgrade` can run on an old schema
        self._tracking: TrackingAPI | None = None
        #: Remote mode: the one connection the remote clients below share, closed by :meth:`close`.
        self._connection: ServerConnection | None = None
        if self.settings.url:
            from shipyard.client.http import ServerConnection
            from shipyard.client.remote_tracking import RemoteTracking

            token = self.settings.token.get_secret_value() if self.settings.token else None
            self._connection = ServerConnection(self.settings.url, token)
            self._tracking = RemoteTracking(self._connection)
        #: Runs started through this client and not yet ended, innermost last.
        self.stack: list[ActiveRun] = []
        self._experiment_ids: dict[str, str] = {}  # experiments are never renamed or deleted
        self._feature_serving: RemoteFeatures | None = None
        self._registry: RemoteRegistry | None = None
        self._pipelines: RemotePipelines | None = None
        self._deployments: RemoteDeployments | None = None
        self._events: EventFeed | None = None

    @property
    def remote(self) -> bool:
        return self.settings.url is not None

    @property
    def tracking(self) -> TrackingAPI:
        """The tracking use cases: in process, or over HTTP in remote mode."""
        if self._tracking is None:
            self._tracking = self._local_app("tracking").tracking
        return self._tracking

    @property
    def user(self) -> str:
        return self.settings.user or getpass.getuser()

    def start_run(
        self,
        experiment: str = "default",
        name: str | None = None,
        *,
        parent: ActiveRun | Run | str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, object] | None = None,
    ) -> ActiveRun:
        """Start a run in ``experiment`` (created if missing); use the result in a ``with`` block.
        ``tags`` and ``params`` are recorded with the run's creation, in one transaction."""
        experiment_id = self._experiment_ids.get(experiment)
        if experiment_id is None:
            experiment_id = self.tracking.get_or_create_experiment(experiment).id
            self._experiment_ids[experiment] = experiment_id
        parent_id = parent if isinstance(parent, str) or parent is None else parent.id
        from shipyard.pipelines import context as step_context  # loaded once a run starts

        made_by = step_context.run_tags()  # inside a pipeline step: which runs made this one
        run = self.tracking.create_run(
            experiment_id,
            name=name,
            user=self.user,
            parent_id=parent_id,
            tags={**made_by, **tags} if tags else (made_by or None),
            environment=environment.capture(),
            params=params,
        )
        active = ActiveRun(self, run)
        self.stack.append(active)
        lifecycle.track(active)
        return active

    def resume_run(self, run_id: str) -> ActiveRun:
        """Log into a run that is still RUNNING, e.g. from one of several training workers."""
        run = self.tracking.get_run(run_id)
        if run.status.terminal:
            raise Conflict(f"run {run_id} has ended ({run.status.value}); start a new run instead")
        active = ActiveRun(self, run)
        self.stack.append(active)
        lifecycle.track(active)
        return active

    def _forget(self, run: ActiveRun) -> None:
        if run in self.stack:
            self.stack.remove(run)
        lifecycle.forget(run)

    # -- administration (embedded mode) -------------------------------------------------------
    def _require_embedded(self, what: str) -> None:
        if self.remote:
            raise ConfigError(
                f"{what} works on the database directly: unset SHIPYARD_URL and run it on the server host"
            )

    def _local_app(self, what: str) -> App:
        self._require_embedded(what)
        if self._app is None:
            from shipyard.app import build_app

            self._app = build_app(self.settings)
        return self._app

    @contextmanager
    def _schema_database(self) -> Iterator[Database]:
        """The metadata database without the schema check, for the commands that manage the schema."""
        self._require_embedded("database commands")
        if self._app is not None:
            yield self._app.db
            return
        from shipyard.app import open_database

        db = open_database(self.settings)
        try:
            yield db
        finally:
            db.dispose()

    @property
    def accounts(self) -> AccountsService:
        return self._local_app("managing users and tokens").accounts

    @property
    def audit(self) -> AuditService:
        return self._local_app("reading the audit trail").audit

    @property
    def events(self) -> EventFeed:
        """The event log (list, tail): in process, or over HTTP in remote mode (needs events.read)."""
        if self._events is None:
            from shipyard.client.events import EventFeed

            if self._connection is None:
                self._events = EventFeed(self._local_app("the event log").events)
            else:
                from shipyard.client.remote_events import RemoteEvents

                self._events = EventFeed(RemoteEvents(self._connection))
        return self._events

    @property
    def registry(self) -> RegistryAPI:
        """The model registry: in process, or over HTTP in remote mode (acting as the token's user)."""
        if self._connection is None:
            return self._local_app("the model registry SDK").registry
        if self._registry is None:
            from shipyard.client.remote_registry import RemoteRegistry

            self._registry = RemoteRegistry(self._connection, trust_pickle=self.settings.trust_pickle)
        return self._registry

    @property
    def pipelines(self) -> PipelineAPI:
        """Pipelines: in process (runs execute here), or over HTTP (runs execute on the server)."""
        if self._connection is None:
            return self._local_app("the pipelines SDK").pipelines
        if self._pipelines is None:
            from shipyard.client.remote_pipelines import RemotePipelines

            self._pipelines = RemotePipelines(self._connection)
        return self._pipelines

    @property
    def deployments(self) -> DeploymentsAPI:
        """Deployments: in process, or over HTTP in remote mode (acting as the token's user)."""
        if self._connection is None:
            return self._local_app("the deployments SDK").deployments
        if self._deployments is None:
            from shipyard.client.remote_deployments import RemoteDeployments

            self._deployments = RemoteDeployments(self._connection)
        return self._deployments

    @property
    def monitoring(self) -> MonitoringAPI:
        """Monitors, labels, alert rules, alerts and channels: in process, or over HTTP in remote
        mode (acting as the token's user)."""
        if self._connection is None:
            return self._local_app("monitoring").monitoring_api
        from shipyard.client.remote_monitoring import RemoteMonitoring

        return RemoteMonitoring(self._connection)

    @property
    def features(self) -> FeatureStore:
        """The feature store (embedded mode; see :attr:`feature_serving` for a server)."""
        return self._local_app("the feature store SDK").features

    @property
    def feature_serving(self) -> FeatureServing:
        """Online reads, pushes and catalog lookups: in process, or over HTTP in remote mode."""
        if self._connection is None:
            return self.features
        if self._feature_serving is None:
            from shipyard.client.remote_features import RemoteFeatures

            self._feature_serving = RemoteFeatures(self._connection)
        return self._feature_serving

    @property
    def triggers(self) -> TriggersAPI:
        """Pipeline triggers: in process, or over HTTP in remote mode (acting as the token's user)."""
        if self._connection is None:
            return self._local_app("pipeline triggers").triggers
        from shipyard.client.remote_triggers import RemoteTriggers

        return RemoteTriggers(self._connection)

    def scheduler(self) -> Scheduler:
        """The trigger scheduler; it works on the database directly (embedded mode)."""
        return self._local_app("the scheduler").scheduler()

    def database_revision(self) -> tuple[str | None, str]:
        """(current, head) revision of the metadata database schema."""
        from shipyard.migrations import runner

        with self._schema_database() as db:
            return runner.current(db), runner.head()

    def upgrade_database(self) -> None:
        from shipyard.migrations import runner

        with self._schema_database() as db:
            runner.upgrade(db)

    def close(self) -> None:
        for run in list(self.stack):
            run.end()
        if self._app is not None:
            self._app.close()
        if self._connection is not None:
            self._connection.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
