"""``shipyard server``: the REST API and web UI."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from shipyard.cli.output import err_console
from shipyard.cli.state import get_state
from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    from shipyard.app import App

#: The user the login hint names first when it exists (the demo creates it).
PREFERRED_USER = "demo-viewer"


def check_port(host: str, port: int) -> None:
    """Fail before announcing anything when ``host:port`` cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InvalidInput(
                f"cannot listen on {host}:{port} ({exc.strerror}); choose another with --port", field="port"
            ) from exc


def login_hint(app: App, base: str) -> str:
    """How to get into the web UI with the users this store has."""
    users = [u.name for u in app.accounts.list_users() if not u.disabled]
    page = f"{base}/ui/login"
    if not users:
        return (
            "No users yet. In another shell, in this folder: `shipyard users create NAME --role viewer` "
            f"then `shipyard tokens create NAME`, and paste the token at {page}"
        )
    name = PREFERRED_USER if PREFERRED_USER in users else users[0]
    return f"Log in at {page} with a token from `shipyard tokens create {name}` (another shell, this folder)."


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
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="Log a line per request to stdout (turn it off behind a reverse proxy that logs "
            "them: 9-18% more write requests a second).",
        ),
    ] = True,
) -> None:
    """Start the Shipyard server: REST API (OpenAPI at /docs), web UI and /metrics."""
    from shipyard.server import serve  # the server stack is imported only when it is used

    settings = get_state(ctx).settings
    check_port(host, port)
    base = f"http://{host}:{port}"

    def announce(app: App) -> None:
        err_console.print(
            f"Shipyard server on {escape(base)} with {workers} worker(s) (web UI at /ui, API docs at "
            "/docs). Stop it with Ctrl+C."
        )
        err_console.print(escape(login_hint(app, base)), soft_wrap=True)

    serve(
        settings,
        host,
        port,
        workers,
        scheduler_interval=interval if scheduler else None,
        announce=announce,
        access_log=access_log,
    )
