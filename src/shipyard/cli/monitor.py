"""``shipyard monitor``: monitors, late labels, alert rules, alerts, notification channels and the
HTML report, from a terminal. With ``SHIPYARD_URL`` set every command goes to the server, which
acts as the token's user (``monitoring.write`` to change, ``monitoring.labels`` to send labels)."""

from __future__ import annotations

import json as jsonlib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli.output import JsonOption, console, emit_json, format_number, new_table, plain
from shipyard.cli.state import get_client
from shipyard.core.clock import to_datetime
from shipyard.errors import InvalidInput
from shipyard.monitoring.model import CHECKS, DriftSettings, Evaluation, Monitor, MonitorSpec, Window

if TYPE_CHECKING:
    import pyarrow as pa

    from shipyard.monitoring.api import MonitoringAPI

app = typer.Typer(help="Monitors, labels, alert rules, alerts, channels and reports.", no_args_is_help=True)
rules_app = typer.Typer(help="Alert rules on a monitor's figures.", no_args_is_help=True)
channels_app = typer.Typer(
    help="Notification channels: webhook (Slack-compatible), smtp, log.", no_args_is_help=True
)
app.add_typer(rules_app, name="rules")
app.add_typer(channels_app, name="channels")

Name = Annotated[str, typer.Argument(help="Monitor name.")]
AlertId = Annotated[str, typer.Argument(help="Alert id (see `shipyard monitor alerts`).")]


def _api(ctx: typer.Context) -> tuple[MonitoringAPI, str]:
    client = get_client(ctx)
    return client.monitoring, client.user


def _when(ms: int | None) -> str:
    return "-" if ms is None else to_datetime(ms).strftime("%Y-%m-%d %H:%M:%S")


def _at(text: str | None) -> int | None:
    """An evaluation time: epoch ms, or an ISO date-time (UTC unless it says otherwise)."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"--at {text!r} is neither epoch milliseconds nor an ISO date-time", field="at"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=to_datetime(0).tzinfo)
    return int(moment.timestamp() * 1000)


def _read_table(path: Path, what: str) -> pa.Table:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if not path.exists():
        raise InvalidInput(f"{what} {path} does not exist", field=what)
    try:
        return pacsv.read_csv(path) if path.suffix == ".csv" else pq.read_table(path)
    except Exception as exc:  # pyarrow's errors vary by format: one line naming the file
        raise InvalidInput(f"cannot read {what} {path}: {exc}", field=what) from None


def monitor_dict(m: Monitor) -> dict[str, object]:
    s = m.spec
    return {
        "name": m.name, "subject": m.subject, "reference": m.reference_source, "reference_rows": m.reference_rows,
        "columns": list(m.columns), "target": s.target, "task": s.task, "window": s.window.label(),
        "schedule": s.schedule, "checks": list(s.checks), "estimates_performance": m.estimator_digest is not None,
        "enabled": m.enabled, "next_due_at": m.next_due_at, "last_evaluated_at": m.last_evaluated_at,
    }  # fmt: skip


def evaluation_dict(e: Evaluation) -> dict[str, object]:
    return {
        "id": e.id, "monitor": e.monitor, "model": e.model, "version": e.version, "window_start": e.window_start,
        "window_end": e.window_end, "rows": e.rows, "status": e.status, "error": e.error, "figures": e.figures,
    }  # fmt: skip


def _show_evaluation(e: Evaluation) -> None:
    console.print(
        f"[bold]{e.monitor}[/bold] {e.model}/{e.version}  {_when(e.window_start)} → {_when(e.window_end)}  "
        f"{e.rows} rows, {e.status}{f': {e.error}' if e.error else ''}"
    )
    table = new_table("figure", "value")
    for key in sorted(e.figures):
        label = f"{key} (estimated)" if key.startswith("estimated.") else key
        table.add_row(plain(label), format_number(e.figures[key]))
    console.print(table)
    drifted = [c for c in e.details.get("drift", {}).get("columns", []) if c.get("drifted")]
    if drifted:
        console.print(
            "drifted: " + ", ".join(f"{c['column']} ({c['method']} {c['score']:.3g})" for c in drifted)
        )


@app.command("create")
def create(
    ctx: typer.Context,
    name: Name,
    deployment: Annotated[str | None, typer.Option(help="Watch this deployment's primary version.")] = None,
    model: Annotated[
        str | None, typer.Option(help="Or watch MODEL/VERSION (evaluated on --data you pass).")
    ] = None,
    reference: Annotated[
        str | None, typer.Option(help="Reference Parquet/CSV; default: the version's training dataset.")
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="The label column in the reference (fits the estimator).")
    ] = None,
    features: Annotated[
        str | None, typer.Option(help="Comma-separated columns to watch (default: the model's inputs).")
    ] = None,
    task: Annotated[str, typer.Option(help="classification or regression.")] = "classification",
    positive: Annotated[
        str | None, typer.Option(help="The positive class (default: the larger of two).")
    ] = None,
    window: Annotated[str, typer.Option(help="1h, 30m, 7d or 5000rows.")] = "1h",
    schedule: Annotated[str | None, typer.Option(help="Cron (UTC) the scheduler evaluates it on.")] = None,
    checks: Annotated[
        str | None, typer.Option(help=f"Comma-separated subset of: {', '.join(CHECKS)}.")
    ] = None,
    drift_method: Annotated[
        str | None, typer.Option(help="Drift method for every column (ks, psi, wasserstein …).")
    ] = None,
    drift_threshold: Annotated[float | None, typer.Option(help="Drift threshold for every column.")] = None,
    drift_share: Annotated[float, typer.Option(help="Share of drifted columns that is dataset drift.")] = 0.5,
    json: JsonOption = False,
) -> None:
    """Create a monitor; its reference is prepared once, now."""
    ref_model, version = None, None
    if model is not None:
        ref_model, _, number = model.partition("/")
        if not number.isdigit():
            raise InvalidInput(f"--model takes MODEL/VERSION, got {model!r}", field="model")
        version = int(number)
    spec = MonitorSpec(
        name=name, deployment=deployment, model=ref_model, version=version, reference=reference, target=target,
        features=None if features is None else tuple(f.strip() for f in features.split(",") if f.strip()),
        task=task,  # type: ignore[arg-type]  # MonitorSpec names a bad one
        positive=positive, window=Window.parse(window), schedule=schedule,
        checks=CHECKS if checks is None else tuple(c.strip() for c in checks.split(",")),  # type: ignore[misc]
        drift=DriftSettings(method=drift_method, threshold=drift_threshold, drift_share=drift_share),
    )  # fmt: skip
    api, user = _api(ctx)
    created = api.create_monitor(spec, actor=user)
    if json:
        emit_json(monitor_dict(created))
        return
    console.print(
        f"Monitor [bold]{created.name}[/bold] on {created.subject}: {len(created.columns)} columns, reference "
        f"{created.reference_source} ({created.reference_rows} rows)"
        + (", performance estimated before labels" if created.estimator_digest else "")
    )


@app.command("list")
def list_monitors(
    ctx: typer.Context,
    deployment: Annotated[str | None, typer.Option(help="Only this deployment's monitors.")] = None,
    json: JsonOption = False,
) -> None:
    """Monitors, with their window, schedule and last evaluation."""
    api, _ = _api(ctx)
    found = api.list_monitors(deployment=deployment)
    if json:
        emit_json([monitor_dict(m) for m in found])
        return
    table = new_table("name", "watches", "window", "schedule", "enabled", "last evaluated")
    for m in found:
        table.add_row(
            plain(m.name), plain(m.subject), m.spec.window.label(), plain(m.spec.schedule or "-"),
            "yes" if m.enabled else "no", _when(m.last_evaluated_at),
        )  # fmt: skip
    console.print(table)


@app.command("show")
def show(ctx: typer.Context, name: Name, json: JsonOption = False) -> None:
    """A monitor and its latest evaluation."""
    api, _ = _api(ctx)
    m = api.get_monitor(name)
    latest = api.evaluations(name, limit=1)
    if json:
        emit_json({**monitor_dict(m), "latest": evaluation_dict(latest[-1]) if latest else None})
        return
    console.print(
        f"[bold]{m.name}[/bold] watches {m.subject}; window {m.spec.window.label()}, schedule "
        f"{m.spec.schedule or 'none (evaluate by hand)'}; reference {m.reference_source} ({m.reference_rows} rows)"
    )
    console.print("checks: " + ", ".join(m.spec.checks))
    if latest:
        _show_evaluation(latest[-1])
    else:
        console.print(f"not evaluated yet: shipyard monitor evaluate {m.name}")


@app.command("evaluate")
def evaluate(
    ctx: typer.Context,
    name: Name,
    at: Annotated[
        str | None, typer.Option(help="The window's end: epoch ms or ISO time (default now).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Scored data (Parquet/CSV) for a monitor on a version.")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Evaluate a monitor's window now (alerts fire, events are published)."""
    api, _ = _api(ctx)
    table = None if data is None else _read_table(data, "data")
    result = api.evaluate(name, at=_at(at), data=table)
    if json:
        emit_json(evaluation_dict(result))
        return
    _show_evaluation(result)


@app.command("history")
def history(
    ctx: typer.Context,
    name: Name,
    figure: Annotated[
        str, typer.Argument(help="A figure: drift.share, performance.roc_auc, estimated.roc_auc …")
    ],
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Latest evaluations to show.")] = 200,
    json: JsonOption = False,
) -> None:
    """One figure over the monitor's evaluations."""
    api, _ = _api(ctx)
    points = api.history(name, figure, limit=limit)
    if json:
        emit_json([{"at": t, "value": v} for t, v in points])
        return
    if not points:
        console.print(f"no evaluation of {name} has {figure}")
        return
    table = new_table("window end", figure)
    for t, v in points[-30:]:
        table.add_row(_when(t), format_number(v))
    console.print(table)


@app.command("enable")
def enable(ctx: typer.Context, name: Name) -> None:
    """Resume a monitor's schedule."""
    api, user = _api(ctx)
    m = api.set_enabled(name, True, actor=user)
    console.print(f"Monitor {m.name} enabled; next evaluation {_when(m.next_due_at)}")


@app.command("disable")
def disable(ctx: typer.Context, name: Name) -> None:
    """Stop a monitor's schedule (its history stays)."""
    api, user = _api(ctx)
    api.set_enabled(name, False, actor=user)
    console.print(f"Monitor {name} disabled")


@app.command("delete")
def delete(ctx: typer.Context, name: Name) -> None:
    """Delete a monitor (its rules stop; alerts and the audit trail stay)."""
    api, user = _api(ctx)
    api.delete_monitor(name, actor=user)
    console.print(f"Monitor {name} deleted")


@app.command("labels")
def labels(
    ctx: typer.Context,
    deployment: Annotated[str, typer.Argument(help="The deployment whose predictions are labelled.")],
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON lines with request_id, label[, row].")],
    json: JsonOption = False,
) -> None:
    """Send late labels; each is joined to its prediction by request id."""
    if file.suffix in (".jsonl", ".ndjson", ".json"):
        try:
            items = [jsonlib.loads(line) for line in file.read_text().splitlines() if line.strip()]
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read labels {file}: {exc}", field="file") from None
    else:
        items = _read_table(file, "file").to_pylist()
    api, _ = _api(ctx)
    report = api.log_labels(deployment, items)
    if json:
        emit_json(report.__dict__)
        return
    console.print(
        f"{report.received} labels: {report.stored} stored, {report.duplicates} duplicates, "
        f"{report.unknown} for unknown request ids (kept), {report.out_of_order} out of order"
    )


@app.command("alerts")
def alerts(
    ctx: typer.Context,
    monitor: Annotated[str | None, typer.Option(help="Only this monitor's alerts.")] = None,
    status: Annotated[str | None, typer.Option(help="firing or resolved.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Most alerts to list.")] = 50,
    json: JsonOption = False,
) -> None:
    """Alerts, newest first."""
    if status not in (None, "firing", "resolved"):
        raise InvalidInput(f"--status is firing or resolved, got {status!r}", field="status")
    api, _ = _api(ctx)
    found = api.list_alerts(monitor=monitor, status=status, limit=limit)  # type: ignore[arg-type]
    if json:
        emit_json([a.__dict__ for a in found])
        return
    table = new_table("id", "monitor", "rule", "condition", "value", "status", "fired", "acknowledged")
    for a in found:
        condition = (
            f"{a.figure}{' (estimated)' if a.figure.startswith('estimated.') else ''} {a.op} {a.threshold:g}"
        )
        table.add_row(
            plain(a.id), plain(a.monitor), plain(a.rule), plain(condition), format_number(a.value), a.status,
            _when(a.fired_at), plain(a.acknowledged_by or "-"),
        )  # fmt: skip
    console.print(table)


@app.command("ack")
def ack(ctx: typer.Context, alert_id: AlertId) -> None:
    """Acknowledge a firing alert (it stays firing until its figure recovers)."""
    api, user = _api(ctx)
    a = api.acknowledge(alert_id, actor=user)
    console.print(f"Alert {a.id} ({a.monitor}: {a.rule}) acknowledged by {a.acknowledged_by}")


@app.command("explain")
def explain(ctx: typer.Context, alert_id: AlertId, json: JsonOption = False) -> None:
    """The closed loop's thread of an alert: event, trigger firing, pipeline run, version, gates,
    deployment decisions."""
    api, _ = _api(ctx)
    steps = api.explain(alert_id)
    if json:
        emit_json([s.__dict__ for s in steps])
        return
    for i, step in enumerate(steps):
        prefix = "  " * min(i, 1) + ("└─ " if i else "")
        console.print(
            f"{prefix}[bold]{step.kind}[/bold] {plain(step.id)}  {_when(step.at)}  {plain(step.summary)}"
        )


@app.command("report")
def report(
    ctx: typer.Context,
    name: Name,
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")] = Path(
        "monitor-report.html"
    ),
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Evaluations to include.")] = 500,
) -> None:
    """Write a self-contained HTML report: distributions against the reference, drift over time,
    performance measured and estimated, alerts."""
    from shipyard.monitoring.report import render_report

    api, _ = _api(ctx)
    monitor = api.get_monitor(name)
    evaluations = api.evaluations(name, limit=limit)
    found = api.list_alerts(monitor=name, limit=1000)
    output.write_text(render_report(monitor, evaluations, found), encoding="utf-8")
    console.print(f"Report written to {output}")


@rules_app.command("add")
def add_rule(
    ctx: typer.Context,
    monitor: Annotated[str, typer.Argument(help="Monitor name.")],
    name: Annotated[str, typer.Argument(help="Rule name.")],
    when: Annotated[str, typer.Option(help="'<figure> <op> <threshold>', e.g. 'drift.share >= 0.5'.")],
    severity: Annotated[str, typer.Option(help="info, warning or critical.")] = "warning",
    cooldown: Annotated[
        int, typer.Option(min=0, max=30 * 86_400, help="Seconds before it may fire again.")
    ] = 3600,
    for_evaluations: Annotated[
        int, typer.Option("--for", min=1, max=1000, help="Evaluations in a row before it fires.")
    ] = 1,
    notify: Annotated[list[str] | None, typer.Option(help="A channel to notify (repeatable).")] = None,
) -> None:
    """Add an alert rule: drift and performance rules also start retraining (event triggers)."""
    from shipyard.monitoring.alerting import parse_condition

    condition = parse_condition(when)
    api, user = _api(ctx)
    rule = api.create_rule(
        monitor, name, condition.figure, condition.op, condition.threshold, severity=severity,
        cooldown_s=cooldown, for_evaluations=for_evaluations, channels=notify or [], actor=user,
    )  # fmt: skip
    console.print(
        f"Rule {rule.name} on {rule.monitor}: {rule.figure} {rule.op} {rule.threshold:g} ({rule.severity})"
    )


@rules_app.command("list")
def list_rules(
    ctx: typer.Context,
    monitor: Annotated[str, typer.Argument(help="Monitor name.")],
    json: JsonOption = False,
) -> None:
    """A monitor's alert rules."""
    api, _ = _api(ctx)
    found = api.list_rules(monitor)
    if json:
        emit_json([r.__dict__ for r in found])
        return
    table = new_table("rule", "condition", "severity", "cooldown", "for", "notifies")
    for r in found:
        table.add_row(
            plain(r.name), plain(f"{r.figure} {r.op} {r.threshold:g}"), r.severity, f"{r.cooldown_s}s",
            str(r.for_evaluations), plain(", ".join(r.channels) or "-"),
        )  # fmt: skip
    console.print(table)


@rules_app.command("delete")
def delete_rule(
    ctx: typer.Context,
    monitor: Annotated[str, typer.Argument(help="Monitor name.")],
    name: Annotated[str, typer.Argument(help="Rule name.")],
) -> None:
    """Delete an alert rule (its alerts stay)."""
    api, user = _api(ctx)
    api.delete_rule(monitor, name, actor=user)
    console.print(f"Rule {name} deleted from {monitor}")


@channels_app.command("add")
def add_channel(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Channel name.")],
    kind: Annotated[str, typer.Option(help="webhook, smtp or log.")],
    setting: Annotated[
        list[str] | None,
        typer.Option("--set", help="KEY=VALUE (url=…, host=…, port=…, sender=…, recipients=a,b)"),
    ] = None,
) -> None:
    """Add a notification channel."""
    settings: dict[str, object] = {}
    for item in setting or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--set takes KEY=VALUE, got {item!r}", field="set")
        settings[key] = [v for v in value.split(",") if v] if key == "recipients" else _setting(value)
    api, user = _api(ctx)
    channel = api.create_channel(name, kind, settings, actor=user)
    console.print(f"Channel {channel.name} ({channel.kind})")


def _setting(value: str) -> object:
    """``2525`` and ``true`` as a number and a flag; anything else as text."""
    if value.isdigit():
        return int(value)
    return {"true": True, "false": False}.get(value.lower(), value)


@channels_app.command("list")
def list_channels(ctx: typer.Context, json: JsonOption = False) -> None:
    """Notification channels."""
    api, _ = _api(ctx)
    found = api.list_channels()
    if json:
        emit_json([{"name": c.name, "kind": c.kind} for c in found])
        return
    table = new_table("channel", "kind", "created by")
    for c in found:
        table.add_row(plain(c.name), c.kind, plain(c.created_by))
    console.print(table)


@channels_app.command("delete")
def delete_channel(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Channel name.")]) -> None:
    """Delete a notification channel."""
    api, user = _api(ctx)
    api.delete_channel(name, actor=user)
    console.print(f"Channel {name} deleted")
