"""``shipyard demo``: a churn-model sweep, tracked end to end, in a fresh folder."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from shipyard.cli.output import console
from shipyard.cli.state import get_state
from shipyard.config import Settings, explain, load_settings


def configured(settings: Settings) -> bool:
    """Whether any setting came from the environment or a config file rather than a default."""
    return any(not row.source.startswith("default") for row in explain(settings))


def demo(
    ctx: typer.Context,
    dir: Annotated[
        Path,
        typer.Option("--dir", help="Folder for the demo's data (and its .shipyard home unless configured)."),
    ] = Path("shipyard-demo"),
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same data.")] = 7,
    rows: Annotated[
        int,
        typer.Option(
            "--rows",
            min=240,
            help="Rows of data: customer-months, 12 months per customer (60,000 = 5,000 customers).",
        ),
    ] = 60_000,
    redis_url: Annotated[
        str | None,
        typer.Option(
            "--redis-url",
            envvar="SHIPYARD_DEMO_REDIS_URL",
            help="Redis for the stream-scoring step (default: the online store, if it is Redis; "
            "else the step is skipped).",
        ),
    ] = None,
) -> None:
    """Generate a customer-churn dataset, track a sweep of models on it, govern, retrain as a
    pipeline with triggers, deploy with a canary, and score a batch and a stream.

    Uses SHIPYARD_* settings or shipyard.toml when given; otherwise keeps everything in DIR/.shipyard.
    """
    from shipyard.client import Client
    from shipyard.demo import onboarding
    from shipyard.demo.scenario import EXPERIMENT, run_demo

    workdir = dir.resolve()
    state = get_state(ctx)
    first_step = None
    if configured(state.settings):
        settings = state.settings
    else:
        if removed := onboarding.start_clean(workdir):
            console.print(
                f"Starting clean: removed the previous demo's store and data in {escape(str(workdir))} "
                f"({', '.join(escape(p.name) for p in removed)})."
            )
        settings = load_settings(home=workdir / onboarding.DEMO_STORE)
        first_step = f"cd {shlex.quote(str(workdir))}"
    where = settings.url if settings.remote else settings.resolved_db_url()
    console.print(f"[bold]Shipyard demo[/] in {escape(str(workdir))} (tracking to {escape(str(where))})")
    client = Client(settings)
    try:
        if (
            first_step is None
            and not settings.remote
            and (count := onboarding.existing_runs(client, EXPERIMENT))
        ):
            console.print(
                f"[yellow]Adding to the configured store:[/] experiment {EXPERIMENT!r} already has {count} "
                "runs; this demo adds its own, and new versions of the model 'churn'."
            )
        run_demo(
            client, workdir, seed=seed, rows=rows, console=console, first_step=first_step, redis_url=redis_url
        )
    finally:
        client.close()
