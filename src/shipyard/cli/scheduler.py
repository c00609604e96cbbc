"""``shipyard scheduler``: fire triggers (a loop with a tick interval, stopped cleanly by SIGTERM or
Ctrl+C: the tick in progress completes), and ``shipyard scheduler status``. Several schedulers may
run on one PostgreSQL database: firings are idempotent (see
:mod:`shipyard.pipelines.triggers.scheduler`)."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli import trigger_views as views
from shipyard.cli.output import JsonOption, console, emit_json
from shipyard.cli.state import get_client
from shipyard.errors import InvalidInput

if TYPE_CHECKING:
    from shipyard.pipelines.triggers.scheduler import TickReport

app = typer.Typer(help="Run the trigger scheduler, or show each trigger's last and next firing.")


@app.callback(invoke_without_command=True)
def scheduler(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Run one tick and exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between ticks.")] = 10.0,
    stale_after: Annotated[
        float,
        typer.Option(
            "--stale-after",
            help="Fail pipeline runs without a heartbeat for this many seconds (their process died).",
        ),
    ] = 120.0,
) -> None:
    """Fire due triggers every --interval seconds until stopped (SIGTERM or Ctrl+C), and fail the
    pipeline runs whose process died (checked every 30 s)."""
    if ctx.invoked_subcommand is not None:
        return
    if not 0.05 <= interval <= 3600:
        raise InvalidInput(f"--interval must be from 0.05 to 3600 seconds, got {interval}", field="interval")
    if not 10 <= stale_after <= 7 * 86400:
        raise InvalidInput(
            f"--stale-after must be from 10 seconds to 7 days, got {stale_after}", field="stale_after"
        )
    sched = get_client(ctx).scheduler()
    sched.stale_after_s = stale_after

    def show(report: TickReport) -> None:
        for firing in report.submitted:
            console.print(f"fired {firing.key} -> {firing.run_id or firing.status.value}")
        for line in report.done:
            console.print(line)
        for run_id in report.abandoned:
            console.print(f"abandoned run {run_id}: its process stopped")
        for error in report.errors:
            typer.echo(f"warning: {error}", err=True)

    try:
        if once:
            show(sched.tick())
            return
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
        console.print(f"Scheduler running (tick every {interval:g}s); stop with Ctrl+C.")
        try:
            sched.run(stop, interval=interval, on_tick=show)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        console.print("Scheduler stopped.")
    finally:
        sched.close()


@app.command("status")
def status(ctx: typer.Context, json: JsonOption = False) -> None:
    """Each trigger's last firing and next fire time."""
    statuses = get_client(ctx).triggers.status()
    if json:
        emit_json(
            [
                {
                    "trigger": s.trigger.name,
                    "kind": s.trigger.kind.value,
                    "pipeline": s.trigger.pipeline,
                    "enabled": s.trigger.enabled,
                    "last_firing": None if s.last_firing is None else views.firing_dict(s.last_firing),
                    "next": views.next_fire(s.trigger),
                    "next_check_at": s.trigger.next_check_at,
                    "pending": s.pending,
                }
                for s in statuses
            ]
        )
    elif not statuses:
        console.print("No triggers yet.")
    else:
        views.status_table(statuses)
