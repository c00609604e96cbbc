"""The demo's registry part: register the two best models, put them through the promotion gates,
promote the one that passes (after a reviewer's approval) and write its model card.

The policy asks a production candidate for a minimum ROC AUC, a fairness bound across age bands,
inputs that match its signature, a margin over the current champion and a reviewer's approval. The
runner-up is refused by the champion gate, and the refusal says by how much.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shipyard.errors import Conflict, NotFound, PermissionDenied
from shipyard.registry.entities import FairnessLimits, GatePolicy, GateReport, ModelVersion, Stage

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.client import Client
    from shipyard.registry.api import RegistryAPI

MODEL = "churn"
REVIEWER = "rita"  # the second pair of eyes the policy asks for
LABEL = "churned"
POLICY = GatePolicy(
    stages=(Stage.PRODUCTION,),
    min={"auc": 0.75},
    beat_champion_by=0.005,
    champion_metric="auc",
    require_validation=True,
    fairness=FairnessLimits(sensitive="age_band", max_demographic_parity_difference=0.15),
    require_approval=True,
)
INTENDED_USE = (
    "Ranks subscribers by their risk of cancelling at the end of the month, so the retention team "
    "can call the riskiest first. Not for pricing or credit decisions."
)
LIMITATIONS = (
    "Trained on synthetic data; customers aged 65+ churn more and are flagged more often. "
    "Scores drift as charges rise: monitor and retrain."
)


@dataclass(frozen=True)
class RegistryOutcome:
    champion: ModelVersion | None
    challenger: ModelVersion
    card: Path


def govern(
    client: Client, ranked_runs: list[str], evaluation: pd.DataFrame, workdir: Path, console: Console
) -> RegistryOutcome:
    """Register the best two runs of the sweep as versions of ``churn`` and try both for production."""
    registry = client.registry
    user = client.user
    try:
        registry.get_model(MODEL)
    except NotFound:
        registry.create_model(MODEL, INTENDED_USE, actor=user)
    registry.set_policy(MODEL, POLICY, actor=user)
    best, runner_up = (
        registry.create_version(MODEL, run, description=why, limitations=LIMITATIONS, actor=user)
        for run, why in zip(ranked_runs[:2], ("best of the sweep", "runner-up of the sweep"), strict=True)
    )
    _try_production(registry, best, evaluation, user, console)
    _try_production(registry, runner_up, evaluation, user, console)
    registry.set_alias(MODEL, "challenger", runner_up.version, actor=user)
    has_champion = "champion" in registry.get_model(MODEL).aliases  # this run's, or an earlier one's
    champion = registry.resolve(f"{MODEL}@champion") if has_champion else None
    shown = champion or best
    markdown, html = registry.card(MODEL, shown.version)
    card = workdir / f"model-card-{MODEL}-v{shown.version}.md"
    card.write_text(markdown)
    card.with_suffix(".html").write_text(html)
    console.print(versions_table(registry))
    console.print(f"Model card of {MODEL}/{shown.version}: {escape(str(card))} (and .html)")
    return RegistryOutcome(champion, registry.get_version(MODEL, runner_up.version), card)


def _try_production(
    registry: RegistryAPI, version: ModelVersion, evaluation: pd.DataFrame, user: str, console: Console
) -> None:
    """Stage the version, ask for and get an approval, measure the gates, then try production."""
    ref = f"{MODEL}/{version.version}"
    registry.transition(MODEL, version.version, Stage.STAGING, actor=user, comment="candidate from the sweep")
    request = registry.request_approval(MODEL, version.version, Stage.PRODUCTION, actor=user)
    registry.decide_approval(request.id, True, actor=REVIEWER, comment="metrics and fairness reviewed")
    report = registry.evaluate_gates(
        MODEL, version.version, Stage.PRODUCTION, evaluation, label=LABEL, actor=user
    )
    console.print(gates_table(ref, report))
    try:
        registry.transition(MODEL, version.version, Stage.PRODUCTION, actor=user, comment="gates passed")
    except (Conflict, PermissionDenied) as refused:
        console.print(f"[bold red]✗ {ref} refused for production:[/] {escape(str(refused))}")
        return
    registry.set_alias(MODEL, "champion", version.version, actor=user)
    console.print(
        f"[bold green]✓ {ref} is in production with the alias 'champion'[/] (approved by {REVIEWER})"
    )


def gates_table(ref: str, report: GateReport) -> Table:
    table = Table(title=f"Promotion gates for {ref} → production", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("gate", "measured", "threshold", "margin", ""):
        table.add_column(column, justify="left" if column in ("gate", "") else "right")
    for result in report.results:
        table.add_row(
            escape(result.name),
            _number(result.measured),
            _number(result.threshold),
            _number(result.margin),
            "[green]passed[/]" if result.passed else "[red]failed[/]",
        )
    return table


def versions_table(registry: RegistryAPI) -> Table:
    table = Table(title=f"Model {MODEL!r}", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("version", "stage", "aliases", "roc_auc", "run"):
        table.add_column(column)
    for v in registry.list_versions(MODEL):
        auc = v.metrics.get("roc_auc")
        table.add_row(
            str(v.version),
            v.stage.value,
            ", ".join(v.aliases),
            "—" if auc is None else f"{auc:.3f}",
            v.run_id,
        )
    return table


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"
