"""The ``shipyard`` command: the root Typer app and the entry point.

The root callback builds the settings once; commands open one client through
:class:`~shipyard.cli.state.State`. Any :class:`~shipyard.errors.ShipyardError` becomes one line
``error: <message>`` on stderr and exit code 1; Ctrl+C exits 130; usage mistakes exit 2.
"""

from __future__ import annotations

import errno
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from shipyard.cli import (
    accounts,
    artifacts,
    config,
    db,
    demo,
    experiments,
    init,
    lineage,
    pipeline_triggers,
    runs,
    scheduler,
    serve,
    server,
)
from shipyard.cli import audit as audit_commands
from shipyard.cli import deployments as deployment_commands
from shipyard.cli import events as event_commands
from shipyard.cli import features as feature_commands
from shipyard.cli import models as model_commands
from shipyard.cli import monitor as monitor_commands
from shipyard.cli import pipelines as pipeline_commands
from shipyard.cli.state import State
from shipyard.config import load_settings
from shipyard.errors import ShipyardError


def report(message: str) -> None:
    """Print ``error: <message>`` as a single line on stderr."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)


class ShipyardGroup(TyperGroup):
    """The root group: turns expected errors from any sub-command into one line and exit 1."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except ShipyardError as exc:
            report(str(exc))
            raise typer.Exit(1) from None
        except OSError as exc:  # a path the user named cannot be read or written
            if exc.errno == errno.EPIPE:
                raise
            report(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
            raise typer.Exit(1) from None


app = typer.Typer(
    name="shipyard",
    cls=ShipyardGroup,
    help="Shipyard: track experiments, data and models, from a laptop to production.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(config.app, name="config")
app.add_typer(db.app, name="db")
app.add_typer(experiments.app, name="experiments")
app.add_typer(runs.app, name="runs")
app.add_typer(artifacts.app, name="artifacts")
app.add_typer(accounts.users_app, name="users")
app.add_typer(accounts.tokens_app, name="tokens")
app.add_typer(accounts.roles_app, name="roles")
app.add_typer(audit_commands.app, name="audit")
app.add_typer(event_commands.app, name="events")
app.add_typer(feature_commands.app, name="features")
app.add_typer(model_commands.app, name="models")
pipeline_triggers.register(pipeline_commands.app)
app.add_typer(pipeline_commands.app, name="pipelines")
app.add_typer(scheduler.app, name="scheduler")
app.add_typer(deployment_commands.app, name="deployments")
app.add_typer(monitor_commands.app, name="monitor")
app.command("deploy")(deployment_commands.deploy)
app.command("lineage")(lineage.lineage)
app.command("init")(init.init)
app.command("demo")(demo.demo)
app.command("server")(server.server)
app.command("serve")(serve.serve)
app.command("predict")(serve.predict)
app.command("stream")(serve.stream)


def _print_version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"shipyard {version('shipyard')}")
        except PackageNotFoundError:
            typer.echo("shipyard (not installed)")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Shipyard: track experiments, data and models, from a laptop to production.

    Configure with SHIPYARD_* environment variables or a shipyard.toml in the current folder
    (see `shipyard config show`).
    """
    state = State(load_settings())
    ctx.obj = state
    ctx.call_on_close(state.close)


def main() -> None:
    """Run the CLI (the ``shipyard`` console script)."""
    try:
        app(prog_name="shipyard")
    except ShipyardError as exc:  # raised outside a command, e.g. while closing the client
        report(str(exc))
        sys.exit(1)


if __name__ == "__main__":
    main()
