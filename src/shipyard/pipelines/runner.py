"""Driving one pipeline run: walk the DAG, reuse cached steps, hand the others to the executor,
retry with exponential backoff, enforce timeouts, record everything.

A step's cache key is the digest of its code version, its constant and parameter arguments and
the digests of its inputs. A hit executes no body: the step gets a nested run marked cached that
links the run it reuses and records the same inputs and outputs (so lineage reads the same).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

from shipyard.core.clock import now_ms
from shipyard.errors import ShipyardError
from shipyard.pipelines import codecs, store
from shipyard.pipelines.codecs import ModelPackager
from shipyard.pipelines.definition import PipelineDefinition, topological_order
from shipyard.pipelines.executors import Executor, StepResult, StepTask
from shipyard.pipelines.model import (
    TAG_ATTEMPT,
    TAG_CACHED_FROM,
    TAG_PIPELINE,
    TAG_PIPELINE_RUN,
    TAG_STEP,
    TAG_STEP_VERSION,
    Node,
    PipelineSpec,
    RunState,
)
from shipyard.pipelines.ports import InputRef, RunRecorder
from shipyard.pipelines.studies import StudyScope
from shipyard.storage.artifacts.content import ContentStore
from shipyard.storage.metadata.database import Database

OUTPUT_PATH = "output"


def cache_key(node: Node, args: Mapping[str, Any]) -> str:
    payload = json.dumps({"step": node.code_digest, "args": args}, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class _Pending:
    node: Node
    run_id: str
    key: str
    attempt: int
    future: Future[StepResult] | None = None
    deadline: float | None = None
    not_before: float = 0.0
    args: dict[str, Any] = field(default_factory=dict)
    stderr: list[str] = field(default_factory=list)


@dataclass
class RunContext:
    run_id: str
    experiment: str
    user: str
    params: Mapping[str, Any]
    cache: bool
    resume_from: str | None
    #: Where search studies live (see :mod:`shipyard.pipelines.studies`); None: in memory.
    study_storage: tuple[str | None, str | None] = (None, None)


class Driver:
    def __init__(
        self,
        db: Database,
        recorder: RunRecorder,
        content: ContentStore,
        packager: ModelPackager | None,
        executor: Executor,
        on_step: Callable[[str, RunState], None] | None = None,
    ) -> None:
        self.db = db
        self.recorder = recorder
        self.content = content
        self.packager = packager
        self.executor = executor
        self.on_step = on_step or (lambda node, state: None)
        self._study_root = ""  # the first run of the resume chain (names the search studies)

    def execute(self, ctx: RunContext, spec: PipelineSpec, definition: PipelineDefinition) -> RunState:
        """Run every step; return SUCCEEDED or FAILED (the caller records the pipeline run's end)."""
        nodes = {n.id: n for n in spec.nodes}
        order = topological_order(spec.nodes)
        outputs: dict[str, tuple[str, str]] = {}  # node -> (kind, digest)
        values: dict[str, Any] = {}
        reusable: dict[str, Any] = {}
        self._study_root = ctx.run_id
        if ctx.resume_from is not None:
            with self.db.read() as conn:
                self._study_root = store.resume_root(conn, ctx.resume_from)
                reusable = {
                    s.node: s
                    for s in store.step_runs(conn, ctx.resume_from)
                    if s.state.ok and s.output_digest
                }
        done: dict[str, RunState] = {}
        running: dict[str, _Pending] = {}
        waiting: list[_Pending] = []
        while len(done) < len(nodes):
            for node_id in order:
                if node_id in done or node_id in running or any(p.node.id == node_id for p in waiting):
                    continue
                node = nodes[node_id]
                ups = [done.get(u) for u in node.upstream]
                if any(s is not None and not s.ok for s in ups):
                    self._skip(ctx, node)
                    done[node_id] = RunState.SKIPPED
                    continue
                if any(s is None for s in ups):
                    continue
                args = self._args(node, ctx.params, outputs)
                key = cache_key(node, args)
                prior = reusable.get(node_id)
                hit: tuple[Any, Any, Any] | None
                if prior is not None and prior.cache_key == key:
                    hit = (prior.run_id, prior.output_kind, prior.output_digest)
                elif ctx.cache and node.options.cache:
                    with self.db.read() as conn:
                        row = store.cache_hit(conn, key)
                    hit = None if row is None else (row.run_id, row.output_kind, row.output_digest)
                else:
                    hit = None
                if hit is not None:
                    outputs[node_id] = (hit[1], hit[2])
                    self._cached(ctx, node, key, args, outputs, hit[0])
                    done[node_id] = RunState.CACHED
                    self.on_step(node_id, RunState.CACHED)
                    continue
                pending = self._start(ctx, node, key, args, outputs)
                waiting.append(pending)
            now = time.monotonic()
            for pending in [p for p in waiting if p.not_before <= now]:
                waiting.remove(pending)
                self._submit(pending, ctx, definition, outputs, values)
                running[pending.node.id] = pending
            if not running:
                if waiting:
                    time.sleep(max(0.0, min(p.not_before for p in waiting) - time.monotonic()))
                continue
            self._collect(ctx, running, waiting, done, outputs, values)
        return RunState.SUCCEEDED if all(s.ok for s in done.values()) else RunState.FAILED

    # -- preparing -------------------------------------------------------------------------------
    def _args(
        self, node: Node, params: Mapping[str, Any], outputs: Mapping[str, tuple[str, str]]
    ) -> dict[str, Any]:
        """The step's arguments as recorded: constants and parameter values, and ``{"digest": …}``
        for each upstream output."""
        args: dict[str, Any] = {}
        for name, source in node.inputs.items():
            if source.kind == "const":
                args[name] = source.value
            elif source.kind == "param":
                args[name] = params[source.ref]
            else:
                args[name] = {"digest": outputs[source.ref][1]}
        return args

    def _step_run(
        self,
        ctx: RunContext,
        node: Node,
        tags: Mapping[str, str],
        args: Mapping[str, Any],
        outputs: Mapping[str, tuple[str, str]],
        *,
        cached: bool = False,
    ) -> str:
        """The step's nested run, with its plain arguments as params and its inputs as datasets."""
        params = {k: json.dumps(v) for k, v in args.items() if node.inputs[k].kind != "node"}
        inputs = [
            InputRef(f"{source.ref}.{OUTPUT_PATH}", outputs[source.ref][1], outputs[source.ref][0], name)
            for name, source in node.inputs.items()
            if source.kind == "node"
        ]
        return self.recorder.start_run(
            ctx.experiment,
            name=node.id,
            user=ctx.user,
            parent_id=ctx.run_id,
            tags={
                TAG_PIPELINE: ctx.experiment,
                TAG_PIPELINE_RUN: ctx.run_id,
                TAG_STEP: node.step,
                TAG_STEP_VERSION: node.code_digest,
                **tags,
            },
            params=params,
            inputs=inputs,
            outputs={OUTPUT_PATH: outputs[node.id][1]} if cached else None,
            end="FINISHED" if cached else None,
        )

    def _cached(
        self,
        ctx: RunContext,
        node: Node,
        key: str,
        args: Mapping[str, Any],
        outputs: Mapping[str, tuple[str, str]],
        source_run: str,
    ) -> None:
        started = now_ms()
        tags = {TAG_CACHED_FROM: source_run, TAG_ATTEMPT: "0"}
        run_id = self._step_run(ctx, node, tags, args, outputs, cached=True)
        kind, digest = outputs[node.id]
        with self.db.write() as conn:
            store.insert_step(
                conn,
                ctx.run_id,
                node,
                state=RunState.CACHED.value,
                run_id=run_id,
                attempt=0,
                cache_key=key,
                cached_from=source_run,
                output_digest=digest,
                output_kind=kind,
                started_at=started,
                finished_at=now_ms(),
            )

    def _skip(self, ctx: RunContext, node: Node) -> None:
        with self.db.write() as conn:
            store.insert_step(conn, ctx.run_id, node, state=RunState.SKIPPED.value, attempt=0)
        self.on_step(node.id, RunState.SKIPPED)

    def _start(
        self,
        ctx: RunContext,
        node: Node,
        key: str,
        args: dict[str, Any],
        outputs: Mapping[str, tuple[str, str]],
    ) -> _Pending:
        run_id = self._step_run(ctx, node, {TAG_ATTEMPT: "1"}, args, outputs)
        with self.db.write() as conn:
            store.insert_step(conn, ctx.run_id, node, run_id=run_id, cache_key=key, started_at=now_ms())
        self.on_step(node.id, RunState.RUNNING)
        return _Pending(node, run_id, key, 1, args=args)

    def _submit(
        self,
        pending: _Pending,
        ctx: RunContext,
        definition: PipelineDefinition,
        outputs: Mapping[str, tuple[str, str]],
        values: dict[str, Any],
    ) -> None:
        node = pending.node
        kwargs: dict[str, Any] = {}
        for name, source in node.inputs.items():
            if source.kind == "node":
                if source.ref not in values:
                    kind, digest = outputs[source.ref]
                    values[source.ref] = codecs.decode(
                        kind, self.content.read_bytes(digest), packager=self.packager
                    )
                kwargs[name] = values[source.ref]
            else:
                kwargs[name] = pending.args[name]
        # Same name on a retry and in a resumed run (same first run), for the same code and inputs.
        study = StudyScope(*ctx.study_storage, f"{self._study_root}/{node.id}/{pending.key}")
        task = StepTask(
            node.id, node.step, node.ref, node.code_digest, kwargs, pending.attempt, node.options.timeout,
            study=study, step_run_id=pending.run_id, pipeline_run_id=ctx.run_id,
        )  # fmt: skip
        pending.future = self.executor.submit(task, definition.step_of(node.id).fn)
        timeout = node.options.timeout
        pending.deadline = None if timeout is None else time.monotonic() + timeout

    # -- finishing -------------------------------------------------------------------------------
    def _record_trials(self, ctx: RunContext, pending: _Pending, result: StepResult) -> None:
        """Each search trial as a run nested under the step's run; the best on the step's run."""
        best: Any = None
        for trial in result.trials:
            trial_run = self.recorder.start_run(
                ctx.experiment,
                name=f"{pending.node.id}-trial-{trial.number}",
                user=ctx.user,
                parent_id=pending.run_id,
                tags={
                    TAG_PIPELINE_RUN: ctx.run_id,
                    TAG_STEP: pending.node.step,
                    "shipyard.trial.state": trial.state,
                },
                params=trial.params,
            )
            points = [("intermediate", v, step) for step, v in sorted(trial.intermediate.items())]
            if trial.value is not None:
                points.append(("value", trial.value, 0))
            end = {"COMPLETE": "FINISHED", "PRUNED": "KILLED"}.get(trial.state, "FAILED")
            self.recorder.record(trial_run, metrics=points, end=end)
            if trial.best:
                best = trial
        if best is not None:
            self.recorder.record(
                pending.run_id,
                params={f"best.{k}": v for k, v in best.params.items()},
                metrics=[("best_value", best.value, 0)],
            )

    def _collect(
        self,
        ctx: RunContext,
        running: dict[str, _Pending],
        waiting: list[_Pending],
        done: dict[str, RunState],
        outputs: dict[str, tuple[str, str]],
        values: dict[str, Any],
    ) -> None:
        deadlines = [p.deadline for p in running.values() if p.deadline is not None]
        retry_at = [p.not_before for p in waiting]
        soonest = min([*deadlines, *retry_at], default=None)
        timeout = None if soonest is None else max(0.0, soonest - time.monotonic())
        futures = {p.future: p for p in running.values() if p.future is not None}
        finished, _ = wait(list(futures), timeout=timeout, return_when=FIRST_COMPLETED)
        now = time.monotonic()
        for pending in list(running.values()):
            future = pending.future
            assert future is not None
            if future in finished:
                try:
                    result = future.result()
                except Exception as exc:  # the executor itself failed (a worker died, Ray is down)
                    result = StepResult(error=f"{type(exc).__name__}: {exc}")
            elif pending.deadline is not None and now >= pending.deadline:
                future.cancel()
                result = StepResult(error=f"timed out after {pending.node.options.timeout:g} s")
            else:
                continue
            del running[pending.node.id]
            state = self._finish(ctx, pending, result, outputs, values)
            if state is None:  # retry later
                waiting.append(pending)
            else:
                done[pending.node.id] = state
                self.on_step(pending.node.id, state)

    def _finish(
        self,
        ctx: RunContext,
        pending: _Pending,
        result: StepResult,
        outputs: dict[str, tuple[str, str]],
        values: dict[str, Any],
    ) -> RunState | None:
        node, run_id = pending.node, pending.run_id
        error = result.error
        if error is None:
            try:
                kind, data = codecs.encode(
                    result.value, step=node.id, pickle_ok=node.options.pickle, packager=self.packager
                )
            except ShipyardError as exc:
                error, kind, data = exc.message, "", b""
        if result.stderr:
            pending.stderr.append(result.stderr)
        if error is not None and pending.attempt <= node.options.retries:
            pending.stderr.append(f"attempt {pending.attempt} failed:\n{error}\n")
            pending.not_before = time.monotonic() + node.options.retry_backoff * 2 ** (pending.attempt - 1)
            pending.attempt += 1
            self.recorder.record(run_id, tags={TAG_ATTEMPT: str(pending.attempt)})
            with self.db.write() as conn:
                store.update_step(conn, ctx.run_id, node.id, attempt=pending.attempt)
            return None
        body = {"started_at": result.started_ms} if result.started_ms else {}  # when the body really began
        texts = {"logs/stdout.txt": result.stdout} if result.stdout else {}
        if pending.stderr or error:
            texts["logs/stderr.txt"] = "".join(pending.stderr) + (error or "")
        if error is not None:
            self.recorder.record(run_id, texts=texts, end="FAILED")
            with self.db.write() as conn:
                store.update_step(
                    conn,
                    ctx.run_id,
                    node.id,
                    state=RunState.FAILED.value,
                    error=error,
                    finished_at=now_ms(),
                    **body,
                )
            return RunState.FAILED
        self._record_trials(ctx, pending, result)
        metrics = []
        if isinstance(result.value, codecs.Model):
            metrics = [(k, float(v), 0) for k, v in result.value.metrics.items()]
        blob = self.content.put_bytes(data)
        outputs[node.id] = (kind, blob.digest)
        values[node.id] = result.value
        self.recorder.record(
            run_id, metrics=metrics, outputs={OUTPUT_PATH: blob.digest}, texts=texts, end="FINISHED"
        )
        with self.db.write() as conn:
            store.update_step(
                conn,
                ctx.run_id,
                node.id,
                state=RunState.SUCCEEDED.value,
                output_digest=blob.digest,
                output_kind=kind,
                finished_at=result.finished_ms or now_ms(),
                **body,
            )
        return RunState.SUCCEEDED
