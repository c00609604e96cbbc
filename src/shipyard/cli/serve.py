"""``shipyard serve``, ``shipyard predict`` and ``shipyard stream``: the prediction server, batch
scoring of a file, and scoring of a Redis stream."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from shipyard.cli.output import err_console
from shipyard.cli.state import get_state
from shipyard.config import Settings, load_settings
from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    from starlette.applications import Starlette

_OPTIONS_ENV = "SHIPYARD_SERVE_OPTIONS"


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
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    max_batch: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per model call.")] = 64,
    max_wait_ms: Annotated[
        float, typer.Option(min=0, max=1000, help="Longest wait for more requests to batch (ms).")
    ] = 1.0,
    memory_mb: Annotated[
        float, typer.Option(min=1, help="Memory cap of loaded versions (MB); least recently used go first.")
    ] = 2048.0,
    max_body_kb: Annotated[int, typer.Option(min=1, max=1_048_576, help="Request body limit (KiB).")] = 1024,
    inference_log: Annotated[bool, typer.Option(help="Append every prediction to the inference log.")] = True,
) -> None:
    """Start the prediction server (Shipyard JSON, MLflow /invocations, Open Inference Protocol v2)."""
    import uvicorn

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
    }
    if not options["models"] and not options["deployments"]:
        raise InvalidInput("name what to serve: DEPLOYMENT ... or --model NAME@ALIAS", field="model")
    os.environ[_OPTIONS_ENV] = json.dumps({"settings": _settings_overrides(settings), **options})
    _check(settings, options)  # fail fast with one line, before any worker starts
    err_console.print(f"Shipyard prediction server on http://{escape(host)}:{port}. Stop it with Ctrl+C.")
    uvicorn.run(
        "shipyard.cli.serve:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=30,
    )


def _settings_overrides(settings: Settings) -> dict[str, Any]:
    data = settings.model_dump(mode="json", exclude_none=True)
    data.pop("token", None)
    return data


def _check(settings: Settings, options: dict[str, Any]) -> None:
    from shipyard.app import RegistryModelSource, build_app
    from shipyard.serving.sources import StaticDeployments

    app = build_app(settings)
    try:
        if options["models"]:
            StaticDeployments(RegistryModelSource(app), options["models"])
    finally:
        app.close()


def worker_app() -> Starlette:
    """The ASGI app of one worker process, built from the options ``serve`` left in the environment."""
    from shipyard.app import build_app, build_prediction_server
    from shipyard.serving.runtime.http import build_http_app
    from shipyard.serving.runtime.server import ServeConfig

    options = json.loads(os.environ[_OPTIONS_ENV])
    settings = load_settings(**options.pop("settings"))
    app = build_app(settings, migrate=False)
    config = ServeConfig(
        deployments=tuple(options["deployments"]),
        max_body_bytes=options["max_body_kb"] * 1024,
        max_batch_rows=options["max_batch"],
        max_wait_ms=options["max_wait_ms"],
        memory_cap_mb=options["memory_mb"],
        spill_dir=settings.home / "spill" / "inference-log",
    )
    server = build_prediction_server(
        app,
        config,
        models=options["models"],
        public=options["public"],
        inference_log=options["inference_log"],
    )
    return build_http_app(server)
