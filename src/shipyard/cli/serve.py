"""``shipyard serve``, ``shipyard predict`` and ``shipyard stream``: the prediction server, batch
scoring of a file, and scoring of a Redis stream."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from shipyard.cli.output import err_console
from shipyard.cli.state import get_state
from shipyard.config import Settings, load_settings
from shipyard.errors import BackendUnavailable, InvalidInput

if TYPE_CHECKING:
    from shipyard.serving.runtime.http import PredictionApp

_OPTIONS_ENV = "SHIPYARD_SERVE_OPTIONS"
_LISTEN_ENV = "SHIPYARD_SERVE_LISTEN"


def serve(
    ctx: typer.Context,
    deployments: Annotated[
        list[str] | None,
        typer.Argument(help="Deployments to serve (default: every one).", show_default=False),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", "-m", help="Serve NAME@ALIAS or NAME/VERSION without a deployment (repeatable)."
        ),
    ] = None,
    public: Annotated[bool, typer.Option(help="With --model: answer without a token.")] = False,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", min=1, max=65535, help="TCP port to listen on.")
    ] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes. With 2+, each listens with SO_REUSEPORT (the kernel spreads "
            "connections), a supervisor restarts dead ones, and /metrics sums them all.",
        ),
    ] = 1,
    max_batch: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per model call.")] = 64,
    max_wait_ms: Annotated[
        float,
        typer.Option(
            min=0,
            max=1000,
            help="Longest wait for more requests to batch (ms); none when no other is in flight.",
        ),
    ] = 1.0,
    memory_mb: Annotated[
        float, typer.Option(min=1, help="Memory cap of loaded versions (MB); least recently used go first.")
    ] = 2048.0,
    max_body_kb: Annotated[int, typer.Option(min=1, max=1_048_576, help="Request body limit (KiB).")] = 1024,
    inference_log: Annotated[bool, typer.Option(help="Append every prediction to the inference log.")] = True,
    threads: Annotated[
        int,
        typer.Option(
            min=0, max=64, help="Threads for model calls (0: on the event loop; for big models use 2+)."
        ),
    ] = 0,
) -> None:
    """Start the prediction server (Shipyard JSON, MLflow /invocations, Open Inference Protocol v2)."""
    settings = get_state(ctx).settings
    options = {
        "deployments": list(deployments or ()),
        "models": list(model or ()),
        "public": public,
        "max_batch": max_batch,
        "max_wait_ms": max_wait_ms,
        "memory_mb": memory_mb,
        "max_body_kb": max_body_kb,
        "inference_log": inference_log,
        "threads": threads,
    }
    if not options["models"] and not options["deployments"]:
        raise InvalidInput("name what to serve: DEPLOYMENT ... or --model NAME@ALIAS", field="model")
    os.environ[_OPTIONS_ENV] = json.dumps({"settings": _settings_overrides(settings), **options})
    _check(settings, options)  # fail fast with one line, before any worker starts
    if workers == 1:
        import uvicorn

        from shipyard.serving.runtime.workers import listen_socket

        sock = listen_socket(host, port)  # a taken port is one line, before any model loads
        err_console.print(f"Shipyard prediction server on http://{escape(host)}:{port}. Stop it with Ctrl+C.")
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C, re-raised after the graceful stop
            uvicorn.Server(_uvicorn_config()).run(sockets=[sock])
        return
    _supervise(host, port, workers)


def _uvicorn_config() -> Any:
    import uvicorn

    from shipyard.serving.runtime.workers import counting_protocol

    return uvicorn.Config(
        "shipyard.cli.serve:worker_app",
        factory=True,
        http=counting_protocol(),  # open connections tell the batcher when no request can come
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # nothing here reads the client address: one ASGI layer less per request
        server_header=False,
        timeout_graceful_shutdown=30,
    )


def _supervise(host: str, port: int, workers: int) -> None:
    """Run ``workers`` worker processes under a supervisor (see
    :mod:`shipyard.serving.runtime.workers`), their Prometheus figures shared through a temporary
    folder (prometheus_client's multiprocess mode)."""
    import signal
    import sys
    import tempfile

    from prometheus_client import multiprocess

    from shipyard.serving.runtime.workers import Supervisor, check_port

    check_port(host, port)
    with tempfile.TemporaryDirectory(prefix="shipyard-serve-metrics-") as metrics:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics, _LISTEN_ENV: json.dumps([host, port])}
        supervisor = Supervisor(
            [sys.executable, "-c", "from shipyard.cli.serve import run_worker; run_worker()"],
            workers,
            env=env,
            # a dead worker's live gauges (models loaded, log queue) leave the sums; its counters stay
            on_exit=lambda pid: multiprocess.mark_process_dead(pid, metrics),  # type: ignore[no-untyped-call]
            report=lambda message: err_console.print(escape(message), soft_wrap=True),
        )
        err_console.print(
            f"Shipyard prediction server on http://{escape(host)}:{port} ({workers} workers). "
            "Stop it with Ctrl+C.",
            soft_wrap=True,
        )
        outcome = supervisor.run()
    for message in outcome.messages:
        err_console.print(escape(message))
    if outcome.failure is not None:
        raise BackendUnavailable(f"{outcome.failure}; its error is above", field="workers")
    if outcome.messages:
        raise typer.Exit(1)
    if outcome.signal == signal.SIGTERM:  # as with one worker: the status says SIGTERM stopped it
        signal.raise_signal(signal.SIGTERM)


def run_worker() -> None:
    """One worker process of :func:`_supervise`: its own ``SO_REUSEPORT`` socket, the app from the
    options ``serve`` left in the environment, and a word to the supervisor once it listens."""
    import sys

    from shipyard.serving.runtime.workers import ReadyServer, exit_with_parent, listen_socket, worker_ready_fd

    ready = worker_ready_fd()
    host, port = json.loads(os.environ[_LISTEN_ENV])
    try:
        sock = listen_socket(host, port, reuse_port=True)
    except InvalidInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    exit_with_parent()

    def listening() -> None:
        os.write(ready, b"+")

    ReadyServer(_uvicorn_config(), listening).run(sockets=[sock])


def _settings_overrides(settings: Settings) -> dict[str, Any]:
    data = settings.model_dump(mode="json", exclude_none=True)
    data.pop("token", None)
    return data


def _check(settings: Settings, options: dict[str, Any]) -> None:
    from shipyard.app import RegistryModelSource, build_app
    from shipyard.serving.sources import StaticDeployments

    app = build_app(settings)
    try:
        for name in options["deployments"]:
            app.deployments.get(name)  # NotFound names the deployment before any worker starts
        if options["models"]:
            StaticDeployments(RegistryModelSource(app), options["models"])
    finally:
        app.close()


def worker_app() -> PredictionApp:
    """The ASGI app of one worker process, built from the options ``serve`` left in the environment."""
    from shipyard.app import build_app, build_prediction_server
    from shipyard.serving.runtime.http import build_http_app
    from shipyard.serving.runtime.server import ServeConfig
    from shipyard.serving.runtime.workers import CONNECTIONS

    options = json.loads(os.environ[_OPTIONS_ENV])
    settings = load_settings(**options.pop("settings"))
    app = build_app(settings, migrate=False)
    config = ServeConfig(
        deployments=tuple(options["deployments"]),
        max_body_bytes=options["max_body_kb"] * 1024,
        max_batch_rows=options["max_batch"],
        max_wait_ms=options["max_wait_ms"],
        memory_cap_mb=options["memory_mb"],
        threads=options["threads"],
        spill_dir=settings.home / "spill" / "inference-log",
    )
    server = build_prediction_server(
        app,
        config,
        models=options["models"],
        public=options["public"],
        inference_log=options["inference_log"],
    )
    server.arrivals.connections = CONNECTIONS
    return build_http_app(server)


def _load(settings: Settings, ref: str) -> tuple[Any, Any, str, int]:
    """(app, loaded model, model name, version) for ``NAME@ALIAS`` or ``NAME/VERSION``."""
    from shipyard.app import RegistryModelSource, build_app
    from shipyard.serving.sources import parse_model_ref

    if settings.remote:
        raise InvalidInput(
            "batch and stream scoring read the registry directly: unset SHIPYARD_URL and run on a host "
            "that reaches the metadata database and artifact store",
            field="model",
        )
    name, ref_text = parse_model_ref(ref)
    app = build_app(settings)
    try:
        source = RegistryModelSource(app)
        version = source.resolve(name, ref_text)
        return app, source.load(name, version), name, version
    except BaseException:
        app.close()
        raise


def _entity_frame(
    app: Any, name: str, version: int, entities: Path, service: str | None, output: Path
) -> Path:
    """The entity frame joined point-in-time with the feature service's features, written next to
    the output (its digest is the scoring job's input in lineage)."""
    import pyarrow.parquet as pq

    service = service or app.registry.get_version(name, version).feature_service
    if service is None:
        raise InvalidInput(
            f"{name} v{version} records no feature service: name one with --feature-service",
            field="feature_service",
        )
    try:
        frame = pq.read_table(entities)
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read the entity frame {entities}: {exc}", field="entities") from None
    joined = app.features.get_historical_features(frame, service=service)
    path = output.with_name(f"{output.stem}.features.parquet")
    joined.to_parquet(path)
    return path


def predict(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The version to score with: NAME@ALIAS or NAME/VERSION.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Parquet file to write (rows + predictions).")
    ],
    input: Annotated[
        Path | None, typer.Option("--input", "-i", help="Parquet file of rows to score.")
    ] = None,
    entities: Annotated[
        Path | None,
        typer.Option(
            help="Instead of --input: a feature-store entity frame (Parquet: entity keys and "
            "event_timestamp); each row gets its features as of its time, then is scored."
        ),
    ] = None,
    feature_service: Annotated[
        str | None,
        typer.Option(help="With --entities: the feature service to join (default: the version's own)."),
    ] = None,
    chunk_rows: Annotated[int, typer.Option(min=1, max=10_000_000, help="Rows per chunk.")] = 65_536,
    executor: Annotated[
        str, typer.Option(help="local (chunked Arrow in this process) or ray (Ray Data).")
    ] = "local",
    no_record: Annotated[bool, typer.Option("--no-record", help="Do not record the job as a run.")] = False,
) -> None:
    """Score a Parquet file (or a feature-store entity frame) with a registered model version,
    chunk by chunk; records a run with lineage (input digest -> version -> output digest)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from shipyard.app import TrackingScoringRecorder
    from shipyard.serving import batch

    if executor not in ("local", "ray"):
        raise InvalidInput(f"--executor must be local or ray, got {executor!r}", field="executor")
    if (input is None) == (entities is None):
        raise InvalidInput("give --input FILE or --entities FILE (one of them)", field="input")
    if feature_service is not None and entities is None:
        raise InvalidInput("--feature-service goes with --entities", field="feature_service")
    source_file = input if input is not None else entities
    assert source_file is not None
    if source_file.resolve() == output.resolve():
        raise InvalidInput("--output must differ from the input", field="output")
    if input is not None:
        batch.open_input(input)
    app, loaded, name, version = _load(get_state(ctx).settings, model)
    try:
        scored = (
            input
            if entities is None
            else _entity_frame(app, name, version, entities, feature_service, output)
        )
        assert scored is not None
        runner = batch.score_file
        if executor == "ray":
            from shipyard.serving.ray_batch import score_file_ray

            runner = score_file_ray
        with Progress(
            TextColumn(f"[bold]{escape(name)} v{version}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,  # the summary line follows; a failure leaves only its error line
        ) as bar:
            task = bar.add_task("score", total=None)
            result = batch.score(
                loaded,
                name,
                version,
                scored,
                output,
                recorder=None if no_record else TrackingScoringRecorder(app.tracking),
                chunk_rows=chunk_rows,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                runner=runner,
            )
    finally:
        app.close()
    rate = result.rows / result.seconds if result.seconds > 0 else 0.0
    typer.echo(
        f"scored {result.rows} rows with {name} v{version} in {result.seconds:.1f} s ({rate:,.0f} rows/s) "
        f"-> {output} {result.output_digest}" + (f" (run {result.run_id})" if result.run_id else "")
    )


def stream(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("--model", "-m", help="NAME@ALIAS or NAME/VERSION to score with.")],
    input_stream: Annotated[str, typer.Option("--input-stream", help="Redis stream to read rows from.")],
    output_stream: Annotated[str, typer.Option("--output-stream", help="Redis stream to write scores to.")],
    group: Annotated[str, typer.Option(help="Consumer group.")],
    consumer: Annotated[str, typer.Option(help="This consumer's name within the group.")],
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help="Redis URL (default: the online store, if it is Redis).")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch", min=1, max=10_000, help="Entries per read.")] = 100,
    claim_idle_ms: Annotated[
        int, typer.Option(min=1, help="Claim entries another consumer left pending this long (ms).")
    ] = 30_000,
    metrics_port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Serve lag and throughput on /metrics here.")
    ] = None,
    until_idle: Annotated[bool, typer.Option(help="Stop once nothing is left to score.")] = False,
) -> None:
    """Score a Redis stream in a consumer group, at least once and without duplicate outputs."""
    import signal
    import threading

    import redis

    from shipyard.serving.stream import StreamScorer, stream_metrics

    settings = get_state(ctx).settings
    url = redis_url or settings.online_store
    if not url or not url.startswith(("redis://", "rediss://", "unix://")):
        raise InvalidInput(
            "give --redis-url redis://host:port/db (the online store is not Redis)", field="redis_url"
        )
    app, loaded, name, version = _load(settings, model)
    app.close()
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise InvalidInput(f"cannot reach Redis at {url}: {exc}", field="redis_url") from None
    scorer = StreamScorer(
        client, loaded, name, version, input_stream, output_stream, group, consumer,
        batch=batch_size, claim_idle_ms=claim_idle_ms, block_ms=500,
    )  # fmt: skip
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1", registry=stream_metrics(scorer.stats, input_stream))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    err_console.print(
        f"scoring {escape(input_stream)} -> {escape(output_stream)} as {escape(group)}/{escape(consumer)}"
    )
    try:
        stats = scorer.run(stop, idle_exit=until_idle)
    except KeyboardInterrupt:
        stats = scorer.stats
    typer.echo(f"scored {stats.scored} entries ({stats.duplicates} redelivered, {stats.dead} dead-lettered)")
