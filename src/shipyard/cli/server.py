"""``shipyard server``: the REST API and web UI."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from shipyard.cli.output import err_console
from shipyard.cli.state import get_state


def server(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Interface to listen on (0.0.0.0 for every one).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", "-p", min=1, max=65535, help="TCP port to listen on.")
    ] = 8080,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", "-w", min=1, max=64, help="Server processes sharing the port (see docs/server.md)."
        ),
    ] = 1,
    scheduler: Annotated[
        bool, typer.Option("--scheduler", help="Also fire pipeline triggers (see `shipyard scheduler`).")
    ] = False,
    interval: Annotated[
        float,
        typer.Option("--scheduler-interval", min=0.05, max=3600, help="Seconds between scheduler ticks."),
    ] = 10.0,
) -> None:
    """Start the Shipyard server: REST API (OpenAPI at /docs), web UI and /metrics."""
    from shipyard.server import serve  # the server stack is imported only when it is used

    settings = get_state(ctx).settings
    err_console.print(
        f"Shipyard server on http://{escape(host)}:{port} with {workers} worker(s) (API docs at /docs). "
        "Stop it with Ctrl+C."
    )
    serve(settings, host, port, workers, scheduler_interval=interval if scheduler else None)
