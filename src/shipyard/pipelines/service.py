"""Pipeline use cases: apply a definition, run it (now or in the background), read runs.

A run's id is its tracking run's id. ``submit`` is what triggers and the scheduler call: it
records a QUEUED run and executes it on a background thread of this process.

While a process executes runs it writes their ``heartbeat_at`` every ``heartbeat_s`` seconds;
``abandon_stale`` fails the active runs without a heartbeat (or a step starting or ending) for
longer than a lease, which the scheduler calls on its ticks: a killed process does not leave its
runs RUNNING forever, and a run with one long step is left alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from shipyard.audit import log as audit
from shipyard.core.clock import now_ms
from shipyard.core.ids import new_id
from shipyard.errors import Conflict, InvalidInput, NotFound, ShipyardError
from shipyard.events import log as event_log
from shipyard.pipelines import store, studies
from shipyard.pipelines.codecs import ModelPackager
from shipyard.pipelines.definition import PipelineDefinition, check_name, load_definition, topological_order
from shipyard.pipelines.events import PipelineFinished, PipelineStarted
from shipyard.pipelines.executors import EXECUTORS, Executor
from shipyard.pipelines.model import (
    TAG_PIPELINE,
    TAG_PIPELINE_VERSION,
    TAG_STARTED_BY,
    TAG_TRIGGER,
    Pipeline,
    PipelineRun,
    PipelineSpec,
    RunState,
)
from shipyard.pipelines.ports import RunRecorder
from shipyard.pipelines.runner import Driver, RunContext
from shipyard.pipelines.store import pipes_t, runs_t, versions_t
from shipyard.storage.artifacts.content import ContentStore
from shipyard.storage.metadata.database import Database

log = logging.getLogger(__name__)

MAX_RUNS_PAGE = 500
#: Seconds between two heartbeats of the runs a process executes.
DEFAULT_HEARTBEAT_S = 10.0


class PipelineService:
    def __init__(
        self,
        db: Database,
        content: ContentStore,
        recorder: RunRecorder,
        packager: ModelPackager | None = None,
        *,
        executor: str = "local",
        executor_options: Mapping[str, object] | None = None,
        experiment: str = "pipelines/{name}",
        background_workers: int = 4,
        heartbeat_s: float = DEFAULT_HEARTBEAT_S,
    ) -> None:
        self.db = db
        self.content = content
        self.recorder = recorder
        self.packager = packager
        self.default_executor = executor
        self.executor_options = dict(executor_options or {})
        self.experiment = experiment
        self._executors: dict[str, Executor] = {}
        self._lock = threading.Lock()
        self._background = ThreadPoolExecutor(background_workers, thread_name_prefix="pipeline-run")
        self._futures: dict[str, Future[None]] = {}
        self.heartbeat_s = heartbeat_s
        self._executing: set[str] = set()  # runs this process executes now (heartbeats)
        self._stop = threading.Event()
        self._heart: threading.Thread | None = None

    # -- definitions ----------------------------------------------------------------------------
    def apply(self, definition: PipelineDefinition, *, actor: str) -> PipelineSpec:
        """Store the pipeline's current version (idempotent) and make it the latest."""
        if not isinstance(definition, PipelineDefinition):
            raise InvalidInput("apply takes a @pipeline", field="pipeline")
        return self.apply_spec(definition.spec(), actor=actor)

    def apply_spec(self, spec: PipelineSpec, *, actor: str) -> PipelineSpec:
        """Store an already built graph (sent by a remote client); its code must be importable
        where runs execute."""
        check_name("pipeline", spec.name)
        topological_order(spec.nodes)
        now = now_ms()
        with self.db.write() as conn:
            row = conn.execute(select(pipes_t).where(pipes_t.c.name == spec.name)).first()
            before = None if row is None else {"version": row.latest_version}
            if row is None:
                pipeline_id = new_id()
                conn.execute(
                    pipes_t.insert(),
                    {
                        "id": pipeline_id,
                        "name": spec.name,
                        "description": spec.description,
                        "latest_version": spec.version,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
            else:
                pipeline_id = row.id
                conn.execute(
                    update(pipes_t)
                    .where(pipes_t.c.id == pipeline_id)
                    .values(latest_version=spec.version, description=spec.description, updated_at=now)
                )
            known = conn.execute(
                select(versions_t.c.id).where(
                    versions_t.c.pipeline_id == pipeline_id, versions_t.c.version == spec.version
                )
            ).first()
            if known is None:
                conn.execute(
                    versions_t.insert(),
                    {
                        "id": new_id(),
                        "pipeline_id": pipeline_id,
                        "version": spec.version,
                        "ref": spec.ref,
                        "source_digest": spec.source_digest,
                        "spec": spec.to_dict(),
                        "applied_by": actor,
                        "created_at": now,
                    },
                )
            if before is None or before["version"] != spec.version:
                audit.append(
                    conn,
                    actor=actor,
                    action="pipeline.apply",
                    object_type="pipeline",
                    object_id=spec.name,
                    before=before,
                    after={"version": spec.version, "ref": spec.ref, "steps": len(spec.nodes)},
                )
        return spec

    def list_pipelines(self) -> list[Pipeline]:
        with self.db.read() as conn:
            rows = conn.execute(select(pipes_t).order_by(pipes_t.c.name)).all()
            return [store.to_pipeline(r) for r in rows]

    def exists(self, name: str) -> bool:
        """Whether a pipeline called ``name`` was applied (what triggers check on creation)."""
        with self.db.read() as conn:
            return conn.execute(select(pipes_t.c.id).where(pipes_t.c.name == name)).first() is not None

    def get_pipeline(self, name: str, version: str | None = None) -> PipelineSpec:
        with self.db.read() as conn:
            return store.spec(conn, store.pipeline_row(conn, check_name("pipeline", name)), version)

    # -- running --------------------------------------------------------------------------------
    def run(
        self,
        pipeline: str | PipelineDefinition,
        params: Mapping[str, object] | None = None,
        *,
        started_by: str,
        executor: str | None = None,
        cache: bool = True,
        resume: str | None = None,
        trigger_id: str | None = None,
        on_step: Callable[[str, RunState], None] | None = None,
    ) -> PipelineRun:
        """Run now, in this thread, and return the finished run (a failed run is returned, not raised)."""
        run_id, definition, spec, _ = self._queue(
            pipeline, params or {}, started_by, executor, cache, resume, trigger_id, None
        )
        self._execute(run_id, definition, spec, on_step)
        return self.get_run(run_id)

    def submit(
        self,
        name: str,
        params: Mapping[str, object],
        *,
        started_by: str,
        trigger_id: str | None = None,
        firing_key: str | None = None,
        executor: str | None = None,
        cache: bool = True,
        resume: str | None = None,
    ) -> str:
        """Record a QUEUED run and execute it in the background on the configured executor (or
        ``executor``); return its id at once. A ``firing_key`` seen before returns the run it
        started (nothing new runs). Bad input (unknown pipeline or parameter, code changed since
        apply, unknown executor) raises here, before anything is recorded."""
        if firing_key is not None:
            existing = self._by_firing_key(firing_key)
            if existing is not None:
                return existing
        if not isinstance(name, str):
            raise InvalidInput("submit takes the name of an applied pipeline", field="pipeline")
        run_id, definition, spec, created = self._queue(
            name, params, started_by, executor, cache, resume, trigger_id, firing_key
        )
        if not created:
            return run_id
        self._futures[run_id] = self._background.submit(self._execute, run_id, definition, spec, None)
        return run_id

    def active_runs(self, trigger_id: str) -> int:
        """How many runs started by ``trigger_id`` are QUEUED or RUNNING."""
        with self.db.read() as conn:
            return store.active_count(conn, trigger_id)

    def wait(self, run_id: str, timeout: float | None = None) -> PipelineRun:
        """Wait for a run submitted by this process to end; return it."""
        future = self._futures.get(run_id)
        if future is not None:
            future.result(timeout)
        return self.get_run(run_id)

    def _by_firing_key(self, firing_key: str) -> str | None:
        with self.db.read() as conn:
            row = conn.execute(select(runs_t.c.id).where(runs_t.c.firing_key == firing_key)).first()
        return None if row is None else str(row.id)

    def _load(self, pipeline: str | PipelineDefinition) -> tuple[PipelineDefinition, PipelineSpec]:
        if isinstance(pipeline, PipelineDefinition):
            applied = self.apply(pipeline, actor="system") if not self._applied(pipeline) else pipeline.spec()
            return pipeline, applied
        applied = self.get_pipeline(pipeline)
        definition = load_definition(applied.ref)
        current = definition.spec()
        if current.version != applied.version:
            raise Conflict(
                f"the code of pipeline {applied.name!r} changed since it was applied (applied "
                f"{applied.version[7:19]}, code now {current.version[7:19]}); apply it again "
                "(shipyard pipelines apply) to run the new code",
                field="pipeline",
            )
        return definition, applied

    def _applied(self, definition: PipelineDefinition) -> bool:
        try:
            return self.get_pipeline(definition.name).version == definition.spec().version
        except NotFound:
            return False

    def _queue(
        self,
        pipeline: str | PipelineDefinition,
        params: Mapping[str, object],
        started_by: str,
        executor: str | None,
        cache: bool,
        resume: str | None,
        trigger_id: str | None,
        firing_key: str | None,
    ) -> tuple[str, PipelineDefinition, PipelineSpec, bool]:
        definition, spec = self._load(pipeline)
        clean = definition.validate_params(params)
        executor = executor or self.default_executor
        self._executor(executor)  # an unknown executor fails before anything is recorded
        if resume is not None:
            previous = self.get_run(resume)
            if previous.pipeline != spec.name:
                raise InvalidInput(f"run {resume} is a run of pipeline {previous.pipeline!r}", field="resume")
            if previous.state not in (RunState.FAILED, RunState.SUCCEEDED):
                raise Conflict(
                    f"run {resume} is {previous.state.value}; resume a run that ended", field="resume"
                )
        if trigger_id is not None and (not isinstance(trigger_id, str) or not 0 < len(trigger_id) <= 128):
            raise InvalidInput("trigger_id must be 1-128 characters", field="trigger_id")
        if firing_key is not None and (not isinstance(firing_key, str) or not 0 < len(firing_key) <= 250):
            raise InvalidInput("firing_key must be 1-250 characters", field="firing_key")
        tags = {TAG_PIPELINE: spec.name, TAG_PIPELINE_VERSION: spec.version, TAG_STARTED_BY: started_by}
        if trigger_id is not None:
            tags[TAG_TRIGGER] = trigger_id
        experiment = self.experiment.format(name=spec.name)
        run_id = self.recorder.start_run(
            experiment, name=spec.name, user=started_by, parent_id=None, tags=tags, params=clean
        )
        try:
            with self.db.write() as conn:
                pipeline_id = store.pipeline_row(conn, spec.name).id
                conn.execute(
                    runs_t.insert(),
                    {
                        "id": run_id,
                        "pipeline_id": pipeline_id,
                        "version": spec.version,
                        "state": RunState.QUEUED.value,
                        "params": clean,
                        "started_by": started_by,
                        "trigger_id": trigger_id,
                        "firing_key": firing_key,
                        "executor": executor,
                        "cache": cache,
                        "resumed_from": resume,
                        "error": None,
                        "created_at": now_ms(),
                        "started_at": None,
                        "finished_at": None,
                    },
                )
        except IntegrityError:
            # Another submitter recorded this firing first: this tracking run never ran.
            self.recorder.record(run_id, tags={"shipyard.duplicate_firing": firing_key or ""}, end="FAILED")
            existing = self._by_firing_key(firing_key) if firing_key else None
            if existing is None:
                raise
            return existing, definition, spec, False
        return run_id, definition, spec, True

    def _executor(self, name: str) -> Executor:
        with self._lock:
            if name not in self._executors:
                factory = EXECUTORS.load(name)
                self._executors[name] = factory(**self.executor_options)  # type: ignore[operator]
            return self._executors[name]

    def _execute(
        self,
        run_id: str,
        definition: PipelineDefinition,
        spec: PipelineSpec,
        on_step: Callable[[str, RunState], None] | None,
    ) -> None:
        with self.db.write() as conn:
            row = store.run_row(conn, run_id)
            if row.state != RunState.QUEUED.value:
                return
            now = now_ms()
            conn.execute(
                update(runs_t)
                .where(runs_t.c.id == run_id)
                .values(state=RunState.RUNNING.value, started_at=now, heartbeat_at=now)
            )
            event = PipelineStarted(run_id, spec.name, spec.version, row.trigger_id, row.started_by)
            event_log.publish(conn, event, actor=row.started_by)
        ctx = RunContext(
            run_id=run_id,
            experiment=self.experiment.format(name=spec.name),
            user=row.started_by,
            params=row.params,
            cache=row.cache,
            resume_from=row.resumed_from,
            study_storage=studies.location(self.db.url),
        )
        error: str | None = None
        self._beating(run_id, True)
        try:
            driver = Driver(
                self.db, self.recorder, self.content, self.packager, self._executor(row.executor), on_step
            )
            state = driver.execute(ctx, spec, definition)
        except Exception as exc:  # the driver itself failed: the run must still end
            state, error = RunState.FAILED, f"{type(exc).__name__}: {exc}"
        finally:
            self._beating(run_id, False)
        if state is RunState.FAILED and error is None:
            with self.db.read() as conn:
                failed = [s for s in store.step_runs(conn, run_id) if s.state is RunState.FAILED]
            error = f"step {failed[0].node!r} failed" if failed else "failed"
        self._end(run_id, state, error)

    def _beating(self, run_id: str, on: bool) -> None:
        """Start or stop the heartbeats of ``run_id`` (the heart thread starts with the first)."""
        with self._lock:
            if on:
                self._executing.add(run_id)
                if self._heart is None:
                    self._heart = threading.Thread(target=self._beat, name="pipeline-heartbeat", daemon=True)
                    self._heart.start()
            else:
                self._executing.discard(run_id)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            with self._lock:
                executing = sorted(self._executing)
            if not executing:
                continue
            try:
                with self.db.write() as conn:
                    conn.execute(
                        update(runs_t)
                        .where(runs_t.c.id.in_(executing), runs_t.c.state.in_(store.ACTIVE))
                        .values(heartbeat_at=now_ms())
                    )
            except ShipyardError as exc:  # the database is away: the next beat tries again
                log.warning("pipeline heartbeat failed: %s", exc)

    # -- reading --------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> PipelineRun:
        with self.db.read() as conn:
            row = store.run_row(conn, run_id)
            return store.to_run(conn, row, row.pipeline_name)

    def list_runs(
        self, pipeline: str | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[PipelineRun]:
        if not isinstance(limit, int) or not 1 <= limit <= MAX_RUNS_PAGE:
            raise InvalidInput(f"limit must be 1-{MAX_RUNS_PAGE}", field="limit")
        if not isinstance(offset, int) or offset < 0:
            raise InvalidInput("offset must be 0 or more", field="offset")
        with self.db.read() as conn:
            q = select(runs_t, pipes_t.c.name.label("pipeline_name")).join(
                pipes_t, pipes_t.c.id == runs_t.c.pipeline_id
            )
            if pipeline is not None:
                q = q.where(runs_t.c.pipeline_id == store.pipeline_row(conn, pipeline).id)
            rows = conn.execute(
                q.order_by(runs_t.c.created_at.desc(), runs_t.c.id.desc()).limit(limit).offset(offset)
            )
            return [store.to_run(conn, r, r.pipeline_name, with_steps=False) for r in rows]

    def logs(self, run_id: str, nodes: Sequence[str] = ()) -> dict[str, tuple[str, str]]:
        """Captured ``(stdout, stderr)`` of each step run (of ``nodes`` if given)."""
        run = self.get_run(run_id)
        known = {s.node for s in run.steps}
        for node in nodes:
            if node not in known:
                raise NotFound(f"run {run_id} has no step {node!r}", field="step")
        out: dict[str, tuple[str, str]] = {}
        for s in run.steps:
            if (nodes and s.node not in nodes) or s.run_id is None:
                continue
            source = s.cached_from if s.state is RunState.CACHED and s.cached_from else s.run_id
            out[s.node] = (
                self.recorder.read_text(source, "logs/stdout.txt") or "",
                self.recorder.read_text(source, "logs/stderr.txt") or "",
            )
        return out

    def abandon_stale(self, older_than_s: float) -> list[str]:
        """Fail the QUEUED or RUNNING runs without activity (a heartbeat, a step starting or
        ending) for ``older_than_s`` seconds that this process is not executing: the process that
        was died. Returns their ids. The scheduler calls this on its ticks, so ``active_runs``
        does not count them forever; ``older_than_s`` should span several heartbeats."""
        if not isinstance(older_than_s, int | float) or older_than_s <= 0:
            raise InvalidInput("older_than_s must be a positive number of seconds", field="older_than_s")
        cutoff = now_ms() - int(older_than_s * 1000)
        mine = {run_id for run_id, f in self._futures.items() if not f.done()}
        with self.db.read() as conn:
            rows = conn.execute(
                select(runs_t.c.id, runs_t.c.created_at, runs_t.c.started_at, runs_t.c.heartbeat_at).where(
                    runs_t.c.state.in_(store.ACTIVE)
                )
            ).all()
            stale = []
            for row in rows:
                if row.id in mine or row.id in self._executing:
                    continue
                times = [row.created_at, row.started_at or 0, row.heartbeat_at or 0]
                for s in store.step_runs(conn, row.id):
                    times += [
                        int(t.timestamp() * 1000) for t in (s.started_at, s.finished_at) if t is not None
                    ]
                if max(times) < cutoff:
                    stale.append(row.id)
        abandoned = []
        for run_id in stale:
            if self._end(
                run_id,
                RunState.FAILED,
                f"abandoned: no activity for {older_than_s:g} s (its process stopped)",
            ):
                abandoned.append(run_id)
        return abandoned

    def _end(self, run_id: str, state: RunState, error: str | None) -> bool:
        """Move an active run to its final state and publish ``pipeline.finished``, once."""
        self.recorder.record(run_id, end="FINISHED" if state is RunState.SUCCEEDED else "FAILED")
        with self.db.write() as conn:
            row = store.run_row(conn, run_id)
            done = conn.execute(
                update(runs_t)
                .where(runs_t.c.id == run_id, runs_t.c.state.in_(store.ACTIVE))
                .values(state=state.value, error=error, finished_at=now_ms())
            ).rowcount
            if done:
                finished = PipelineFinished(
                    run_id, row.pipeline_name, row.version, row.trigger_id, state.value
                )
                event_log.publish(conn, finished, actor=row.started_by)
        return bool(done)

    def close(self) -> None:
        self._background.shutdown(wait=True)
        self._stop.set()
        for executor in self._executors.values():
            executor.close()
