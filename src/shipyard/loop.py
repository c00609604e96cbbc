"""The closed loop's thread for one alert, composed here because it crosses every domain (which do
not import each other): alert → event → trigger firing → pipeline run → its step runs → the model
version they registered → its gate reports → the deployment decisions that followed.

Each link is found from the previous one by what was recorded, never by guessing: the alert row
names its event type and id (the event's payload carries ``alert_id``), the firing's detail names
the event's sequence number, the firing names its run, step runs name their parent, a run started
inside a step carries the pipeline run's tag, a version names its run, and decisions are those of
the monitored deployment after the version was registered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from shipyard.events.log import events_t
from shipyard.monitoring.model import ThreadStep
from shipyard.pipelines.model import TAG_PIPELINE_RUN
from shipyard.pipelines.triggers.records import firings_t, triggers_t
from shipyard.registry import lineage as registry_lineage
from shipyard.tracking.records import runs_t, tags_t

if TYPE_CHECKING:
    from shipyard.app import App


def _ms(value: datetime | int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp() * 1000)
    return int(value)


def explain(app: App, alert_id: str) -> list[ThreadStep]:
    alert = app.alerts.get_alert(alert_id)
    monitor = app.monitoring.get(alert.monitor)
    steps = [
        ThreadStep(
            "alert", alert.id, alert.fired_at,
            f"{alert.monitor}: {alert.rule} fired, {alert.figure} = {alert.value:.4g} ({alert.op} {alert.threshold:g}), "
            f"now {alert.status}",
        )
    ]  # fmt: skip
    event = _event(app, alert.id, alert.event_type, alert.fired_at)
    if event is None:
        return steps
    steps.append(ThreadStep("event", f"#{event.seq}", event.at, f"{event.type} published (event {event.id})"))
    for firing in _firings(app, event.seq):
        steps.append(
            ThreadStep(
                "firing", firing.key, firing.created_at, f"trigger {firing.trigger} fired: {firing.status}"
            )
        )
        if firing.run_id is None:
            continue
        run = app.tracking.get_run(firing.run_id)
        steps.append(
            ThreadStep(
                "pipeline_run", run.id, _ms(run.start_time), f"pipeline run {run.name}: {run.status.value}"
            )
        )
        children = _children(app, run.id)
        for child_id, child_name, child_status in children:
            steps.append(ThreadStep("step_run", child_id, None, f"step {child_name}: {child_status}"))
        with app.db.read() as conn:
            made = _made_in(conn, run.id)  # runs a step started (e.g. to log the model it registers)
            registered = registry_lineage.versions_of_runs(conn, [run.id, *(c[0] for c in children), *made])
        for version in registered:
            mv = app.registry.get_version(version.model, version.version)
            created = _ms(mv.created_at)
            steps.append(
                ThreadStep(
                    "model_version", f"{version.model}/{version.version}", created,
                    f"registered {version.model}/{version.version} ({mv.stage})",
                )
            )  # fmt: skip
            for report in app.registry.gate_reports(version.model, version.version):
                steps.append(
                    ThreadStep(
                        "gate_report", report.id, _ms(report.at),
                        f"gates of {version.model}/{version.version} for {report.target_stage}: "
                        + ("passed" if report.passed else f"refused ({', '.join(_failed(report))})"),
                    )
                )  # fmt: skip
            if monitor.spec.deployment is not None:
                for decision in reversed(app.deployments.decisions(monitor.spec.deployment, limit=100)):
                    if created is not None and decision.at >= created:
                        steps.append(
                            ThreadStep(
                                "decision", decision.id, decision.at,
                                f"deployment {decision.deployment}: {decision.action} ({decision.reason})",
                            )
                        )  # fmt: skip
    return steps


def _failed(report: Any) -> list[str]:
    return [r.name for r in report.results if not r.passed]


def _event(app: App, alert_id: str, event_type: str | None, since: int) -> Any:
    if event_type is None:
        return None
    with app.db.read() as conn:
        rows = conn.execute(
            select(events_t)
            .where(events_t.c.type == event_type, events_t.c.at >= since - 1)
            .order_by(events_t.c.seq)
        ).all()
    return next((r for r in rows if (r.payload or {}).get("alert_id") == alert_id), None)


def _firings(app: App, seq: int) -> list[Any]:
    with app.db.read() as conn:
        rows = conn.execute(
            select(firings_t, triggers_t.c.name.label("trigger"))
            .join(triggers_t, triggers_t.c.id == firings_t.c.trigger_id)
            .where(firings_t.c.key.like(f"%event/{seq}"))
            .order_by(firings_t.c.created_at)
        ).all()
    return [r for r in rows if (r.detail or {}).get("event_seq") == seq]


def _made_in(conn: Connection, pipeline_run_id: str) -> list[str]:
    """Runs tagged with the pipeline run that made them (see :mod:`shipyard.pipelines.context`)."""
    query = select(tags_t.c.run_id).where(tags_t.c.key == TAG_PIPELINE_RUN, tags_t.c.value == pipeline_run_id)
    return [r for (r,) in conn.execute(query)]


def _children(app: App, run_id: str) -> list[tuple[str, str, str]]:
    with app.db.read() as conn:
        rows = conn.execute(
            select(runs_t.c.id, runs_t.c.name, runs_t.c.status)
            .where(runs_t.c.parent_id == run_id)
            .order_by(runs_t.c.start_time)
        ).all()
    return [(r.id, r.name, str(r.status)) for r in rows]
