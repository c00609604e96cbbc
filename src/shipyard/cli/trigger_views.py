"""How triggers and firings look in a terminal: tables and JSON dicts."""

from __future__ import annotations

from shipyard.cli.output import console, format_time, new_table, plain
from shipyard.pipelines.triggers.model import (
    Firing,
    Trigger,
    TriggerStatus,
)


def what(t: Trigger) -> str:
    return t.describe()


def next_fire(t: Trigger) -> str:
    return t.next_fire() or format_time(t.next_check_at)


def trigger_dict(t: Trigger) -> dict[str, object]:
    return {
        **t.to_dict(),
        "id": t.id,
        "created_by": t.created_by,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
        "last_fired_at": t.last_fired_at,
        "next_check_at": t.next_check_at,
    }


def firing_dict(f: Firing) -> dict[str, object]:
    return {
        "id": f.id,
        "key": f.key,
        "status": f.status.value,
        "due_at": f.due_at,
        "params": dict(f.params),
        "detail": dict(f.detail),
        "run_id": f.run_id,
        "error": f.error,
        "created_at": f.created_at,
        "submitted_at": f.submitted_at,
    }


def triggers_table(triggers: list[Trigger]) -> None:
    table = new_table("name", "kind", "pipeline", "enabled", "what", "last fired", "next", title="Triggers")
    for t in triggers:
        table.add_row(
            plain(t.name),
            t.kind.value,
            plain(t.pipeline),
            "yes" if t.enabled else "no",
            plain(what(t)),
            format_time(t.last_fired_at),
            plain(next_fire(t)),
        )
    console.print(table)


def firings_table(firings: list[Firing], title: str) -> None:
    table = new_table("due", "status", "run", "cause", title=title)
    for f in firings:
        cause = ", ".join(f"{k}={v}" for k, v in f.detail.items() if k != "params")
        table.add_row(format_time(f.due_at), f.status.value, plain(f.run_id or f.error or "—"), plain(cause))
    console.print(table)


def status_table(statuses: list[TriggerStatus]) -> None:
    table = new_table(
        "trigger", "kind", "pipeline", "last firing", "status", "next firing", "pending", title="Scheduler"
    )
    for s in statuses:
        last = s.last_firing
        table.add_row(
            plain(s.trigger.name),
            s.trigger.kind.value,
            plain(s.trigger.pipeline),
            format_time(last.due_at) if last else "never",
            last.status.value if last else "—",
            plain(next_fire(s.trigger)),
            str(s.pending),
        )
    console.print(table)
