"""Composition root: settings -> backends -> services. The only code that knows which concrete
backend is in use. Building an App connects nothing until a service is called, except that an
embedded database is brought to the current schema (``auto_upgrade``).

The registry and the feature store are built on first use: they bring pandas, DuckDB and the
model libraries, which a command that only lists runs should not wait for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.accounts.service import AccountsService
from shipyard.audit.service import AuditService
from shipyard.config import Settings
from shipyard.core.clock import now_ms
from shipyard.core.limits import Limits
from shipyard.errors import InvalidInput, NotFound, PermissionDenied
from shipyard.events.service import EventLog
from shipyard.migrations import runner
from shipyard.pipelines.ports import InputRef
from shipyard.pipelines.triggers.model import NewDataSpec, SourceKind
from shipyard.pipelines.triggers.ports import PipelineLauncher
from shipyard.provenance import DomainLineage, FeatureStoreOrigins
from shipyard.registry.entities import TrainingData
from shipyard.registry.ports import RunFacts
from shipyard.storage.artifacts import ContentStore, open_store
from shipyard.storage.metadata.database import Database
from shipyard.tracking import tags
from shipyard.tracking.model import DatasetInfo, RunStatus
from shipyard.tracking.service import TrackingService

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from shipyard.features.service import FeatureStore
    from shipyard.monitoring.alerts import AlertService
    from shipyard.monitoring.api import Monitoring
    from shipyard.monitoring.metrics import MonitorMetrics
    from shipyard.monitoring.service import MonitorService
    from shipyard.packaging.package import LoadedModel
    from shipyard.pipelines.service import PipelineService
    from shipyard.pipelines.triggers.scheduler import Scheduler
    from shipyard.pipelines.triggers.service import TriggerService
    from shipyard.registry.service import RegistryService
    from shipyard.serving.canary import LabelFigure
    from shipyard.serving.deployments import DeploymentService
    from shipyard.serving.ports import DeploymentSource, OnlineRows, WindowSink
    from shipyard.serving.runtime.server import PredictionServer, ServeConfig


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
    def pipeline_launcher(self) -> PipelineLauncher:
        """What starts pipeline runs for triggers and knows which pipelines exist: the pipelines
        service (tests may assign another launcher before the triggers are first used)."""
        return self.pipelines

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
    def deployments(self) -> DeploymentService:
        from shipyard.serving.deployments import DeploymentService

        return DeploymentService(self.db, RegistryCatalog(self), labels=MonitoredLabels(self))

    @cached_property
    def monitoring(self) -> MonitorService:
        from shipyard.monitoring.service import MonitorService

        return MonitorService(
            self.db,
            self.content,
            deployments=ServingDeployments(self),
            inference=InferenceLogRows(self),
            live=DeploymentLiveFigures(self),
            versions=RegistryVersions(self),
            scorer=RegistryScorer(self),
            alerts=self.alerts,
            metrics=self.monitor_metrics,
        )

    @cached_property
    def monitoring_api(self) -> Monitoring:
        """The monitoring API in process (services plus the closed loop's ``explain``)."""
        from shipyard.loop import explain
        from shipyard.monitoring.api import Monitoring

        return Monitoring(self.monitoring, self.alerts, lambda alert_id: explain(self, alert_id))

    @cached_property
    def monitor_metrics(self) -> MonitorMetrics:
        """Monitor figures, alert states and notification outcomes for ``/metrics``."""
        from shipyard.monitoring.metrics import MonitorMetrics

        return MonitorMetrics()

    @cached_property
    def alerts(self) -> AlertService:
        from shipyard.monitoring.alerts import AlertService
        from shipyard.monitoring.dispatch import NotificationDispatcher

        return AlertService(self.db, dispatcher=NotificationDispatcher(metrics=self.monitor_metrics))

    @cached_property
    def features(self) -> FeatureStore:
        return build_feature_store(self.settings, self.db, self.content)

    @cached_property
    def pipelines(self) -> PipelineService:
        from shipyard.pipelines.service import PipelineService

        return PipelineService(
            self.db,
            self.content,
            TrackingRunRecorder(self.tracking),
            PackageModelPackager(trust_pickle=self.settings.trust_pickle),
            executor=self.settings.executor,
            executor_options={"ray_address": self.settings.ray_address},
            experiment=self.settings.pipelines_experiment,
        )

    @cached_property
    def triggers(self) -> TriggerService:
        from shipyard.pipelines.triggers.event_feed import EventLogFeed
        from shipyard.pipelines.triggers.service import TriggerService

        launcher = self.pipeline_launcher
        return TriggerService(
            self.db,
            launcher,
            pipelines=launcher if hasattr(launcher, "exists") else None,  # type: ignore[arg-type]
            events=EventLogFeed(self.events),
            views=FeatureViewSourceLookup(self),
        )

    def scheduler(self, *, lease_s: float | None = None) -> Scheduler:
        """A scheduler over this installation's triggers (see :mod:`shipyard.pipelines.triggers.scheduler`)."""
        from shipyard.pipelines.triggers import dispatch
        from shipyard.pipelines.triggers.event_feed import EventLogFeed
        from shipyard.pipelines.triggers.scheduler import Scheduler

        launcher = self.pipeline_launcher
        return Scheduler(
            self.db,
            launcher,
            events=EventLogFeed(self.events),
            views=FeatureViewSourceLookup(self),
            lease_s=dispatch.DEFAULT_LEASE_S if lease_s is None else lease_s,
            jobs=[MonitorTick(self)],
            runs=launcher if hasattr(launcher, "abandon_stale") else None,  # type: ignore[arg-type]
            storage_options=s3_storage_options(self.settings),
        )

    def close(self) -> None:
        if "alerts" in self.__dict__ and self.alerts.dispatcher is not None:  # send what is queued
            self.alerts.dispatcher.close()
        if "features" in self.__dict__:  # built: close its online store
            self.features.close()
        if "pipelines" in self.__dict__:  # built: wait for background runs
            self.pipelines.close()
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


class TrackingRunRecorder:
    """Pipelines' view of runs (:class:`shipyard.pipelines.ports.RunRecorder`), from tracking."""

    def __init__(self, tracking: TrackingService) -> None:
        self.tracking = tracking
        self._experiments: set[str] = set()

    def start_run(
        self,
        experiment: str,
        *,
        name: str,
        user: str,
        parent_id: str | None,
        tags: Mapping[str, str],
        params: Mapping[str, object] | None = None,
        inputs: Sequence[InputRef] = (),
        outputs: Mapping[str, str] | None = None,
        end: str | None = None,
    ) -> str:
        if experiment not in self._experiments:
            self.tracking.get_or_create_experiment(experiment)
            self._experiments.add(experiment)
        datasets = [(DatasetInfo(i.name, i.digest, (), None, "", i.kind), i.context) for i in inputs]
        return self.tracking.open_run(
            experiment,
            name=name,
            user=user,
            parent_id=parent_id,
            tags=tags,
            params=params,
            inputs=datasets,
            artifacts=outputs,
            end=None if end is None else RunStatus(end),
        )

    def record(
        self,
        run_id: str,
        *,
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, str] | None = None,
        metrics: Sequence[tuple[str, float, int]] = (),
        outputs: Mapping[str, str] | None = None,
        texts: Mapping[str, str] | None = None,
        end: str | None = None,
    ) -> None:
        artifacts = dict(outputs or {})
        for path, text in (texts or {}).items():
            artifacts[path] = self.tracking.content.put_bytes(text.encode()).digest
        if metrics:
            now = now_ms()
            self.tracking.log_metrics(run_id, [(k, float(v), step, now) for k, v, step in metrics])
        status = None if end is None else RunStatus(end)
        self.tracking.log_batch(run_id, params=params, tags=tags, artifacts=artifacts, end=status)

    def read_text(self, run_id: str, path: str) -> str | None:
        try:
            digest = self.tracking.artifact(run_id, path).digest
        except NotFound:
            return None
        return self.tracking.content.read_bytes(digest).decode(errors="replace")


class PackageModelPackager:
    """Pipelines' model storage (:class:`shipyard.pipelines.codecs.ModelPackager`): the model package format."""

    def __init__(self, *, trust_pickle: bool) -> None:
        self.trust_pickle = trust_pickle

    def pack(self, model: object, input_example: pd.DataFrame, flavor: str | None) -> bytes:
        from shipyard.packaging.package import build_package

        data, _ = build_package(model, input_example=input_example, flavor=flavor)
        return data

    def unpack(self, data: bytes) -> tuple[object, pd.DataFrame, str]:
        from shipyard.packaging.package import load_model

        loaded = load_model(data, trust_pickle=self.trust_pickle)
        return loaded.raw, loaded.manifest.example_frame(), loaded.manifest.flavor


def s3_storage_options(settings: Settings) -> dict[str, dict[str, object]]:
    """fsspec's options for ``s3://`` paths: the configured S3-compatible endpoint, if any."""
    if not settings.s3_endpoint_url:
        return {}
    return {"s3": {"client_kwargs": {"endpoint_url": settings.s3_endpoint_url}}}


class FeatureViewSourceLookup:
    """The triggers' view of feature views (:class:`~shipyard.pipelines.triggers.ports.FeatureViewSources`):
    the local or S3 files, or the PostgreSQL or DuckDB table a view reads, as a new-data source."""

    def __init__(self, app: App) -> None:
        self.app = app

    def source_of(self, view: str) -> NewDataSpec:
        from shipyard.features.model import FileSource, SqlSource

        fv = self.app.features.get_view(view)
        source = fv.source
        if isinstance(source, FileSource) and "://" not in source.path:
            path = Path(source.path)
            pattern = str(path / "**" / "*") if path.is_dir() else source.path
            return NewDataSpec(SourceKind.FILES, path=pattern)
        if isinstance(source, FileSource) and source.path.startswith("s3://"):
            folder = source.path.endswith("/")
            return NewDataSpec(SourceKind.FILES, path=source.path + "**" if folder else source.path)
        if (
            isinstance(source, SqlSource)
            and source.table
            and source.url.startswith(("postgresql", "duckdb:///"))
        ):
            return NewDataSpec(
                SourceKind.TABLE, url=source.url, table=source.table, column=fv.timestamp_field
            )
        raise InvalidInput(
            f"feature view {view!r} reads a source a trigger cannot watch (local or S3 files, and "
            "PostgreSQL or DuckDB tables can be watched)",
            field="view",
        )


class RegistryCatalog:
    """The deployments' view of the registry (:class:`shipyard.serving.ports.ModelCatalog`)."""

    def __init__(self, app: App) -> None:
        self.app = app

    def resolve(self, model: str, ref: str) -> int:
        return RegistryModelSource(self.app).resolve(model, ref)  # one reading of "3" vs "champion"

    def set_alias(self, model: str, alias: str, version: int, *, actor: str) -> None:
        self.app.registry.set_alias(model, alias, version, actor=actor)


def open_database(settings: Settings) -> Database:
    """The metadata database of ``settings`` (creating the folder of an embedded one), unchecked."""
    url = settings.resolved_db_url()
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return Database(url)


def limits_of(settings: Settings) -> Limits:
    return Limits(
        max_metric_points=settings.max_metric_points,
        max_tags=settings.max_tags,
        max_params=settings.max_params,
        max_filter_length=settings.max_filter_length,
        max_filter_terms=settings.max_filter_terms,
    )


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
        tracking=TrackingService(db, content, limits_of(settings), lineage_extensions=[DomainLineage()]),
        accounts=AccountsService(
            db,
            default_token_lifetime=timedelta(days=settings.token_lifetime_days)
            if settings.token_lifetime_days
            else None,
        ),
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


class RegistryModelSource:
    """Serving's :class:`~shipyard.serving.ports.ModelSource`, from the registry: versions by
    number or alias, packages digest-checked and loaded with the registry's trust rules."""

    def __init__(self, app: App) -> None:
        self.app = app

    def resolve(self, model: str, ref: str) -> int:
        sep = "/" if ref.isdigit() else "@"
        return self.app.registry.resolve(f"{model}{sep}{ref}").version

    def load(self, model: str, version: int) -> LoadedModel:
        return self.app.registry.load(f"{model}/{version}")


class AccountsPredictAuthorizer:
    """Serving's :class:`~shipyard.serving.ports.PredictAuthorizer`, from the accounts service."""

    def __init__(self, accounts: AccountsService) -> None:
        self.accounts = accounts

    def authenticate(self, secret: str) -> str:
        return self.accounts.authenticate(secret).user.name

    def authorize(self, secret: str, model: str) -> str:
        principal = self.accounts.authenticate(secret)
        user = principal.user.name
        if not self.accounts.allowed(user, "deployments.predict", model=model):
            raise PermissionDenied(
                f"user {user!r} may not perform deployments.predict on model {model!r}: it needs a role "
                "that allows it (viewer or above), globally or on the model",
                field="action",
            )
        return user


class TrackingScoringRecorder:
    """Serving's :class:`~shipyard.serving.ports.ScoringRecorder`: a batch scoring job is a run in
    the experiment ``batch-scoring``, with the input and output as datasets (input digest ->
    model version tag -> output digest)."""

    EXPERIMENT = "batch-scoring"

    def __init__(self, tracking: TrackingService) -> None:
        self.tracking = tracking

    def start(self, model: str, version: int, *, input_name: str, input_digest: str) -> str:
        from shipyard.tracking.model import DatasetInfo, Direction

        self.tracking.get_or_create_experiment(self.EXPERIMENT)
        run = self.tracking.create_run(
            self.EXPERIMENT,
            name=f"score-{model}-v{version}",
            tags={"shipyard.model": model, "shipyard.model_version": str(version), "shipyard.job": "predict"},
        )
        self.tracking.log_dataset(
            run.id,
            DatasetInfo(_dataset_name(input_name), input_digest, (), None, input_name, "parquet"),
            context="scoring",
            direction=Direction.INPUT,
        )
        return run.id

    def finish(
        self, run_id: str, *, output_name: str, output_digest: str, rows: int, seconds: float, ok: bool
    ) -> None:
        from shipyard.tracking.model import DatasetInfo, Direction, RunStatus

        now = now_ms()
        if ok:
            self.tracking.log_dataset(
                run_id,
                DatasetInfo(_dataset_name(output_name), output_digest, (), rows, output_name, "parquet"),
                context="predictions",
                direction=Direction.OUTPUT,
            )
            self.tracking.log_metrics(
                run_id,
                [
                    ("rows", float(rows), 0, now),
                    ("seconds", seconds, 0, now),
                    ("rows_per_second", rows / seconds if seconds > 0 else 0.0, 0, now),
                ],
            )
        self.tracking.end_run(run_id, RunStatus.FINISHED if ok else RunStatus.FAILED)


def _dataset_name(location: str) -> str:
    return Path(location).name[:200] or "data"


class _LazyFeatures:
    """The feature store's online reads, built on the first request that needs them."""

    def __init__(self, app: App) -> None:
        self.app = app

    def get_online_features(
        self,
        features: Sequence[str] | None = None,
        service: str | None = None,
        *,
        entity_rows: Sequence[Mapping[str, object]],
    ) -> OnlineRows:
        return self.app.features.get_online_features(features, service, entity_rows=entity_rows)


class MonitoredLabels:
    """Serving's :class:`~shipyard.serving.canary.LabelMetrics` from monitoring: a version's
    accuracy on its labelled predictions (the canary's label check, once labels arrive). Reads
    nothing when no label was ever sent for the deployment."""

    def __init__(self, app: App) -> None:
        self.app = app

    def metric(self, deployment: str, model: str, version: int, since: int) -> LabelFigure | None:
        from sqlalchemy import select

        from shipyard.monitoring.labels import labels_t
        from shipyard.serving.canary import LabelFigure

        with self.app.db.read() as conn:
            if (
                conn.execute(
                    select(labels_t.c.row).where(labels_t.c.deployment == deployment).limit(1)
                ).first()
                is None
            ):
                return None
        found = self.app.monitoring.label_accuracy(deployment, version, since)
        return None if found is None else LabelFigure(found[0], found[1])


class MonitorTick:
    """The scheduler's :class:`~shipyard.pipelines.triggers.ports.TickJob` for monitors: evaluate
    those whose slot has come (built only when a monitor exists, so a scheduler without monitors
    does not load the monitoring stack)."""

    def __init__(self, app: App) -> None:
        self.app = app

    def tick(self, now_ms: int) -> tuple[list[str], list[str]]:
        from sqlalchemy import select

        from shipyard.monitoring.records import monitors_t

        if "monitoring" not in self.app.__dict__:
            with self.app.db.read() as conn:
                if conn.execute(select(monitors_t.c.id).limit(1)).first() is None:
                    return [], []
        evaluations, errors = self.app.monitoring.run_due(now_ms)
        done = [
            f"monitor {e.monitor}: {e.status}, {e.rows} rows, drift share {e.figures.get('drift.share', float('nan')):.2f}"
            for e in evaluations
        ]
        return done, errors


class ServingDeployments:
    """Monitoring's :class:`~shipyard.monitoring.ports.Deployments`, from the deployments store."""

    def __init__(self, app: App) -> None:
        self.app = app

    def primary(self, deployment: str) -> tuple[str, int]:
        found = self.app.deployments.get(deployment)
        target = found.role("primary")
        if target is None:
            raise NotFound(f"deployment {deployment!r} has no primary version")
        return target.model, target.version


class InferenceLogRows:
    """Monitoring's :class:`~shipyard.monitoring.ports.InferenceRows`: the inference log in the
    artifact store."""

    def __init__(self, app: App) -> None:
        self.app = app

    def read(self, deployment: str, start_ms: int, end_ms: int, *, last: int | None = None) -> pa.Table:
        from shipyard.serving import inference_reader

        store = self.app.content.store
        if last is not None:
            return inference_reader.read_last(store, deployment, end_ms, last)
        return inference_reader.read_range(store, deployment, start_ms, end_ms)


class DeploymentLiveFigures:
    """Monitoring's :class:`~shipyard.monitoring.ports.LiveFigures`: the windows replicas report."""

    def __init__(self, app: App) -> None:
        self.app = app

    def figures(self, deployment: str, start_ms: int, end_ms: int) -> dict[str, float]:
        from shipyard.serving.canary import quantile, summed

        windows = [w for w in self.app.deployments.windows(deployment, since=start_ms) if w.start < end_ms]
        if not windows:
            return {}
        total = summed(windows)
        out = {"requests": float(total.requests), "errors": float(total.errors)}
        if total.requests:
            out["error_rate"] = total.errors / total.requests
        p99 = quantile(0.99, total.latency_buckets)
        if p99 is not None:
            out["latency_p99_ms"] = p99
        return out


class RegistryVersions:
    """Monitoring's :class:`~shipyard.monitoring.ports.Versions`, from the registry."""

    def __init__(self, app: App) -> None:
        self.app = app

    def check(self, model: str, version: int) -> None:
        self.app.registry.get_version(model, version)

    def registered_at(self, model: str, version: int) -> int:
        return int(self.app.registry.get_version(model, version).created_at.timestamp() * 1000)

    def training_data(self, model: str, version: int) -> tuple[pa.Table, str]:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        data = self.app.registry.get_version(model, version).training_data
        if data is None or not data.location:
            raise InvalidInput(
                f"{model}/{version} records no training dataset with a location to read: "
                "give the monitor a reference (--reference FILE)",
                field="reference",
            )
        try:
            if data.location.endswith(".csv"):
                return pacsv.read_csv(data.location), data.location
            return pq.read_table(data.location), data.location
        except (OSError, ValueError) as exc:
            raise InvalidInput(
                f"cannot read {model}/{version}'s training dataset at {data.location}: {exc}; "
                "give the monitor a reference (--reference FILE)",
                field="reference",
            ) from None


class RegistryScorer:
    """Monitoring's :class:`~shipyard.monitoring.ports.Scorer`: the version, loaded from the
    registry with its trust rules (held while the process lives)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._loaded: dict[tuple[str, int], LoadedModel] = {}

    def _model(self, model: str, version: int) -> LoadedModel:
        key = (model, version)
        if key not in self._loaded:
            self._loaded[key] = self.app.registry.load(f"{model}/{version}")
        return self._loaded[key]

    def inputs(self, model: str, version: int) -> list[str]:
        return [c.name for c in self._model(model, version).signature.inputs]

    def predict(self, model: str, version: int, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        loaded = self._model(model, version)
        return loaded.predict(frame), loaded.predict_proba(frame)

    def classes(self, model: str, version: int) -> list[object] | None:
        predictor = self._model(model, version).predictor
        found = getattr(predictor, "classes", None)  # wrappers that keep them (LightGBM)
        if found is None:
            found = getattr(predictor.raw, "classes_", None)  # scikit-learn and its look-alikes
        return None if found is None else list(found)


def build_prediction_server(
    app: App,
    config: ServeConfig,
    *,
    models: Sequence[str] = (),
    public: bool = False,
    inference_log: bool = True,
) -> PredictionServer:
    """The prediction server of ``shipyard serve``: versions from the registry, tokens checked by
    the accounts service, online features from the feature store, the inference log in the
    artifact store. ``models`` (``churn@champion``) serve those versions without the deployments
    store."""
    from shipyard.serving.inference_log import InferenceLog
    from shipyard.serving.runtime.server import PredictionServer
    from shipyard.serving.sources import StaticDeployments

    source = RegistryModelSource(app)
    # Named versions are served as they are; otherwise the deployments store decides what is
    # served, and receives the live figures its canary decider reads.
    deployments: DeploymentSource = (
        StaticDeployments(source, models, public=public) if models else app.deployments
    )
    windows: WindowSink | None = None if models else app.deployments
    log = (
        InferenceLog(
            app.content.store,
            spill_dir=config.spill_dir,
            flush_rows=config.log_flush_rows,
            flush_seconds=config.log_flush_seconds,
        )
        if inference_log
        else None
    )
    return PredictionServer(
        source,
        deployments,
        config=config,
        authorizer=AccountsPredictAuthorizer(app.accounts),
        features=_LazyFeatures(app),
        inference_log=log,
        windows=windows,
    )
