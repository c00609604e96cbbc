"""The demo's serving part: deploy the champion, send it traffic, start a canary of the pipeline's
candidate, send more, and let the canary decider promote or roll back from the live figures.

Traffic goes through the prediction server ``shipyard serve`` runs, in this process, over an ASGI
transport: requests are authenticated with a token of the demo's viewer, every prediction lands in
the inference log, and the server reports per-version windows that the decider reads.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shipyard.demo.models import FEATURES
from shipyard.demo.names import CANDIDATE_ALIAS, DEPLOYMENT
from shipyard.demo.onboarding import VIEWER
from shipyard.demo.registry_stage import MODEL
from shipyard.errors import NotFound
from shipyard.serving.model import CanaryPolicy

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from shipyard.app import App
    from shipyard.client import Client
    from shipyard.serving.records import DecisionRecord

#: Requests sent to the champion alone, then to the canary (split by weight).
CHAMPION_REQUESTS = 100
CANARY_REQUESTS = 300
CONCURRENCY = 8
#: One step at 50% then promotion; decided as soon as each side has answered enough requests.
POLICY = CanaryPolicy(steps=(50, 100), step_seconds=0, min_requests=100)
DECIDER = "shipyard-demo"


@dataclass(frozen=True)
class ServingOutcome:
    deployment: str
    champion_version: int
    challenger_version: int | None  # None when there was no candidate to canary
    requests: int  # answered with 200
    decision: DecisionRecord | None


def run_serving_stage(
    app: App, client: Client, champion_ref: str, traffic: pd.DataFrame, spill_dir: Path, console: Console
) -> ServingOutcome:
    """Deploy ``champion_ref`` (``churn@champion``), drive traffic, canary the candidate and decide.
    ``traffic`` rows hold the features."""
    user = client.user
    deployments = client.deployments
    registry = client.registry
    champion = registry.resolve(champion_ref).version
    deployments.deploy(DEPLOYMENT, champion_ref, strategy="single", actor=user)
    console.print(f"Deployed {DEPLOYMENT!r}: {MODEL}/{champion} ({escape(champion_ref)}) takes all traffic.")
    secret = secret_for(app, user)
    rows = json.loads(traffic[list(FEATURES)].to_json(orient="records"))
    answered = drive(app, secret, rows[:CHAMPION_REQUESTS], spill_dir, console, "Champion traffic")
    try:
        candidate = registry.resolve(f"{MODEL}@{CANDIDATE_ALIAS}").version
    except NotFound:  # the pipeline registered nothing: no canary to show
        candidate = None
    if candidate is None or candidate == champion:
        console.print("[yellow]No candidate version to canary; the champion keeps all traffic.[/]")
        return ServingOutcome(DEPLOYMENT, champion, None, answered, None)
    deployments.deploy(
        DEPLOYMENT, champion_ref, strategy="canary", challenger=f"{MODEL}@{CANDIDATE_ALIAS}",
        canary=POLICY, actor=user,
    )  # fmt: skip
    console.print(
        f"Canary: {MODEL}/{candidate} (@{CANDIDATE_ALIAS}) gets {POLICY.steps[0]}% of the traffic; the "
        f"decider needs {POLICY.min_requests} requests on each side."
    )
    picked = [rows[i % len(rows)] for i in range(CHAMPION_REQUESTS, CHAMPION_REQUESTS + CANARY_REQUESTS)]
    answered += drive(app, secret, picked, spill_dir, console, "Canary traffic")
    decisions = deployments.decide(DEPLOYMENT, holder=DECIDER)
    decision = decisions[0] if decisions else None
    if decision is not None:
        console.print(decision_table(decision))
        final = deployments.get(DEPLOYMENT)
        serving = ", ".join(f"{t.model}/{t.version} {t.role} {t.weight}%" for t in final.targets)
        console.print(
            f"[bold]{escape(decision.action)}[/]: {escape(decision.reason)} — now serving {serving}."
        )
        if decision.action == "promote":
            console.print(
                f"The registry's @champion stays {MODEL}/{champion}: moving it is the registry's decision "
                "(gates and a reviewer), not the deployment's."
            )
    return ServingOutcome(DEPLOYMENT, champion, candidate, answered, decision)


def secret_for(app: App, actor: str) -> str:
    """A one-hour token of the demo's viewer: the prediction server asks for a token of a user
    allowed to predict (a viewer is)."""
    return app.accounts.create_token(VIEWER, "demo-traffic", timedelta(hours=1), actor=actor).secret


def drive(
    app: App, secret: str, rows: list[dict[str, Any]], spill_dir: Path, console: Console, label: str
) -> int:
    """Send one request per row to a fresh in-process prediction server; returns the 200 answers.
    Stopping the server writes its inference log and reports its last windows."""
    from shipyard.app import build_prediction_server
    from shipyard.serving.runtime.server import ServeConfig

    config = ServeConfig(deployments=(DEPLOYMENT,), spill_dir=spill_dir, poll_seconds=60.0)
    server = build_prediction_server(app, config)
    columns = (TextColumn(f"{label:<16}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=len(rows))
        statuses = asyncio.run(_send(server, secret, rows, lambda: progress.advance(task)))
    ok = sum(s == 200 for s in statuses)
    failed = len(statuses) - ok
    console.print(
        f"{label}: {ok} of {len(statuses)} requests answered" + (f", {failed} failed" if failed else "")
    )
    return ok


async def _send(server: Any, secret: str, rows: list[dict[str, Any]], done: Any) -> list[int]:
    import httpx

    from shipyard.serving.runtime.http import build_http_app

    await server.start()
    try:
        transport = httpx.ASGITransport(app=build_http_app(server))
        headers = {"Authorization": f"Bearer {secret}"}
        limit = asyncio.Semaphore(CONCURRENCY)
        async with httpx.AsyncClient(transport=transport, base_url="http://shipyard-demo") as http:

            async def one(row: dict[str, Any]) -> int:
                async with limit:
                    answer = await http.post(
                        f"/v1/deployments/{DEPLOYMENT}/predict", json={"inputs": row}, headers=headers
                    )
                done()
                return answer.status_code

            return list(await asyncio.gather(*(one(r) for r in rows)))
    finally:
        await server.stop()


def decision_table(decision: DecisionRecord) -> Table:
    """The decision's checks (value against threshold, samples) and each version's figures."""
    table = Table(
        title=f"Canary decision for {decision.deployment}: {decision.action}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for column in ("check", "measured", "threshold", "samples", ""):
        table.add_column(column, justify="left" if column in ("check", "") else "right")
    for check in decision.checks:
        colour = {"pass": "green", "fail": "red"}.get(check.status, "yellow")
        table.add_row(
            escape(check.name),
            "—" if check.value is None else f"{check.value:.3f}",
            f"{check.threshold:g}",
            f"{check.samples}/{check.min_samples}",
            f"[{colour}]{check.status}[/]",
        )
    for role in ("primary", "challenger"):
        figures = decision.figures.get(role)
        if isinstance(figures, dict):
            p99 = figures.get("p99_ms")
            table.add_row(
                f"[dim]{role}[/]",
                f"[dim]{figures.get('requests')} requests, {figures.get('errors')} errors, p99 "
                + ("—" if p99 is None else f"{float(p99):.1f} ms")
                + "[/]",
                "",
                "",
                "",
            )
    return table
