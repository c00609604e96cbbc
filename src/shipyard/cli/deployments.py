"""``shipyard deploy`` and ``shipyard deployments``: deployments from a terminal. Versions are
named ``MODEL@ALIAS`` or ``MODEL@VERSION`` (``churn@champion``, ``churn@3``); an alias is resolved
when the deployment changes and recorded. With ``SHIPYARD_URL`` set every command goes to the
server, which acts as the token's user and checks its roles (``deployments.write`` to change)."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli.output import JsonOption, console, emit_json, format_number, new_table, plain
from shipyard.cli.state import get_client
from shipyard.core.clock import to_datetime
from shipyard.errors import InvalidInput
from shipyard.serving.model import STRATEGIES, CanaryPolicy, Deployment

if TYPE_CHECKING:
    from shipyard.serving.api import DeploymentsAPI
    from shipyard.serving.records import DecisionRecord

app = typer.Typer(
    help="List, inspect, promote, roll back, pause and decide deployments.", no_args_is_help=True
)

Name = Annotated[str, typer.Argument(help="Deployment name.")]
Reason = Annotated[str, typer.Option("--reason", "-m", help="Why (kept with the decision).")]


def _api(ctx: typer.Context) -> tuple[DeploymentsAPI, str]:
    client = get_client(ctx)
    return client.deployments, client.user


def deployment_dict(d: Deployment) -> dict[str, object]:
    return {
        "name": d.name,
        "model": d.model,
        "strategy": d.strategy,
        "status": d.status,
        "public": d.public,
        "revision": d.revision,
        "targets": [
            {"model": t.model, "version": t.version, "role": t.role, "weight": t.weight, "alias": t.alias}
            for t in d.targets
        ],
        "canary": None if d.canary is None else {**d.canary.__dict__, "steps": list(d.canary.steps)},
        "updated_at": d.updated_at,
    }


def decision_dict(d: DecisionRecord) -> dict[str, object]:
    return {
        "deployment": d.deployment,
        "at": d.at,
        "action": d.action,
        "weight": d.weight,
        "reason": d.reason,
        "revision": d.revision,
        "actor": d.actor,
        "checks": [c.to_dict() for c in d.checks],
        "figures": dict(d.figures),
    }


def _split(d: Deployment) -> str:
    return ", ".join(
        f"{t.model}@{t.version}{f' ({t.alias})' if t.alias else ''} {t.role} {t.weight}%" for t in d.targets
    )


def _show(d: Deployment, json: bool) -> None:
    if json:
        emit_json(deployment_dict(d))
        return
    console.print(
        f"[bold]{d.name}[/bold]  {d.strategy}, {d.status}{', public' if d.public else ''}, revision {d.revision}"
    )
    table = new_table("model", "version", "alias", "role", "weight")
    for t in d.targets:
        table.add_row(plain(t.model), str(t.version), plain(t.alias or "—"), t.role, f"{t.weight}%")
    console.print(table)


def _steps(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise InvalidInput(
            f"--steps must be percentages separated by commas (10,25,50), got {text!r}", field="steps"
        ) from None


def deploy(
    ctx: typer.Context,
    name: Name,
    model: Annotated[str, typer.Argument(help="The primary version: MODEL@ALIAS or MODEL@VERSION.")],
    strategy: Annotated[
        str, typer.Option("--strategy", "-s", help=f"One of {', '.join(STRATEGIES)}.")
    ] = "single",
    challenger: Annotated[
        str | None, typer.Option("--challenger", help="A canary's challenger: MODEL@REF.")
    ] = None,
    shadow: Annotated[
        str | None, typer.Option("--shadow", help="A shadow deployment's shadow: MODEL@REF.")
    ] = None,
    weight: Annotated[
        int | None, typer.Option("--weight", help="The challenger's first share, percent.")
    ] = None,
    public: Annotated[bool, typer.Option("--public", help="Predicting needs no token.")] = False,
    steps: Annotated[str | None, typer.Option("--steps", help="Canary weights, e.g. 10,25,50,100.")] = None,
    step_seconds: Annotated[int | None, typer.Option("--step-seconds", help="Least time per step.")] = None,
    min_requests: Annotated[int | None, typer.Option("--min-requests", help="Samples per check.")] = None,
    max_error_rate: Annotated[
        float | None, typer.Option("--max-error-rate", help="Most challenger errors per request.")
    ] = None,
    max_p99_ratio: Annotated[
        float | None, typer.Option("--max-p99-ratio", help="Most challenger p99 / primary p99.")
    ] = None,
    min_agreement: Annotated[float | None, typer.Option("--min-agreement", help="0 turns it off.")] = None,
    promote_alias: Annotated[
        str | None,
        typer.Option("--promote-alias", help="Point this registry alias at a promoted challenger."),
    ] = None,
    feature_service: Annotated[
        str | None, typer.Option("--feature-service", help="Online features fetched by entity key.")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Create or change deployment NAME (a blue-green one keeps its old primary as standby)."""
    api, user = _api(ctx)
    overrides = {
        key: value
        for key, value in {
            "steps": _steps(steps),
            "step_seconds": step_seconds,
            "min_requests": min_requests,
            "max_error_rate": max_error_rate,
            "max_p99_ratio": max_p99_ratio,
            "min_agreement": min_agreement,
            "promote_alias": promote_alias,
        }.items()
        if value is not None
    }
    if overrides and strategy != "canary":
        raise InvalidInput(f"canary options need --strategy canary (got {strategy})", field="strategy")
    policy = CanaryPolicy(**overrides) if strategy == "canary" else None  # type: ignore[arg-type]
    deployed = api.deploy(
        name,
        model,
        strategy=strategy,
        challenger=challenger,
        shadow=shadow,
        weight=weight,
        canary=policy,
        public=public,
        feature_service=feature_service,
        actor=user,
    )
    _show(deployed, json)


@app.command("list")
def list_(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option("--model", help="Only deployments of this model.")] = None,
    json: JsonOption = False,
) -> None:
    """List deployments with their traffic split."""
    api, _ = _api(ctx)
    found = api.list_deployments(model=model)
    if json:
        emit_json([deployment_dict(d) for d in found])
        return
    if not found:
        console.print("No deployments yet. Create one with `shipyard deploy NAME MODEL@ALIAS`.")
        return
    table = new_table("name", "strategy", "status", "traffic", "revision", title="Deployments")
    for d in found:
        table.add_row(plain(d.name), d.strategy, d.status, plain(_split(d)), str(d.revision))
    console.print(table)


def _decisions_table(found: list[DecisionRecord]) -> None:
    table = new_table("time", "action", "weight", "reason", "checks", "actor", title="Decisions")
    for d in found:
        checks = ", ".join(f"{c.name}={format_number(c.value, 3)} {c.status}" for c in d.checks)
        when = to_datetime(d.at).strftime("%Y-%m-%d %H:%M:%S") if d.at else "now"
        table.add_row(when, d.action, f"{d.weight}%", plain(d.reason), plain(checks), plain(d.actor))
    console.print(table)


@app.command("show")
def show(ctx: typer.Context, name: Name, json: JsonOption = False) -> None:
    """One deployment: its versions, traffic split and its latest decisions."""
    api, _ = _api(ctx)
    deployment = api.get(name)
    found = api.decisions(name, limit=10)
    if json:
        emit_json({**deployment_dict(deployment), "decisions": [decision_dict(d) for d in found]})
        return
    _show(deployment, False)
    if found:
        _decisions_table(found)


@app.command("promote")
def promote(ctx: typer.Context, name: Name, reason: Reason = "", json: JsonOption = False) -> None:
    """Make a canary's challenger (or a shadow) the primary."""
    api, user = _api(ctx)
    _show(api.promote(name, actor=user, reason=reason or "promoted by hand"), json)


@app.command("rollback")
def rollback(ctx: typer.Context, name: Name, reason: Reason = "", json: JsonOption = False) -> None:
    """Drop the challenger or shadow; switch a blue-green deployment back to its standby."""
    api, user = _api(ctx)
    _show(api.rollback(name, actor=user, reason=reason or "rolled back by hand"), json)


@app.command("pause")
def pause(ctx: typer.Context, name: Name, json: JsonOption = False) -> None:
    """Freeze the traffic split: the canary decider leaves the deployment alone."""
    api, user = _api(ctx)
    _show(api.pause(name, actor=user), json)


@app.command("resume")
def resume(ctx: typer.Context, name: Name, json: JsonOption = False) -> None:
    """Let a paused deployment's canary advance again (its step starts over)."""
    api, user = _api(ctx)
    _show(api.resume(name, actor=user), json)


@app.command("delete")
def delete(ctx: typer.Context, name: Name) -> None:
    """Delete a deployment (servers stop serving it)."""
    api, user = _api(ctx)
    api.delete(name, actor=user)
    console.print(f"Deleted deployment {name}.")


@app.command("decide")
def decide(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="One canary (default: every active canary).")] = None,
    loop: Annotated[bool, typer.Option("--loop", help="Keep deciding until interrupted.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, max=3600, help="Seconds between rounds.")
    ] = 10.0,
    json: JsonOption = False,
) -> None:
    """Run one round of canary analysis (or, with --loop, a round every --interval seconds)."""
    api, user = _api(ctx)
    holder = f"cli-{uuid.uuid4().hex[:12]}"
    while True:
        found = api.decide(name, holder=holder, actor=user, keep_lease=loop)
        if json:
            emit_json([decision_dict(d) for d in found])
        elif found:
            for d in found:
                console.print(f"{d.deployment}: {d.action} ({d.weight}%) — {d.reason}")
        elif not loop:
            console.print("Nothing to decide (no active canary, or another decider holds the lease).")
        if not loop:
            return
        time.sleep(interval)
