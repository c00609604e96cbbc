"""Model cards: what a version is for, what it was trained on, how it measured, how fair it was,
its limitations and who approved and moved it. One set of facts, rendered by two Jinja2 templates
(``templates/model_card.md.j2`` and ``templates/model_card.html.j2``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from shipyard.registry.entities import Approval, GateReport, ModelVersion, RegisteredModel, Transition
from shipyard.registry.ports import TrainingOrigin


@dataclass(frozen=True)
class CardFacts:
    model: RegisteredModel
    version: ModelVersion
    transitions: list[Transition]
    approvals: list[Approval]
    gate_reports: list[GateReport]
    origin: TrainingOrigin | None = None  # the feature views and source files of the training data

    @property
    def fairness(self) -> list[tuple[GateReport, list[tuple[str, bool, float | None, float | None]]]]:
        """Fairness results of each stored gate evaluation that measured any."""
        out = []
        for report in self.gate_reports:
            rows = [
                (r.name.removeprefix("fairness "), r.passed, r.measured, r.threshold)
                for r in report.results
                if r.name.startswith("fairness")
            ]
            if rows:
                out.append((report, rows))
        return out


@cache
def _environment(html: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("shipyard.registry", "templates"),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = lambda v: "—" if v is None else f"{v:.4g}"
    env.filters["when"] = lambda v: "—" if v is None else v.strftime("%Y-%m-%d %H:%M UTC")
    env.filters["md"] = lambda v: str(v).replace("|", "\\|").replace("\n", " ")
    return env


def render(facts: CardFacts) -> tuple[str, str]:
    """(Markdown, HTML) of the card."""
    markdown = _environment(False).get_template("model_card.md.j2").render(f=facts)
    html = _environment(True).get_template("model_card.html.j2").render(f=facts)
    return markdown, html
