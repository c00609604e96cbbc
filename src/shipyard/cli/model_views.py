"""What ``shipyard models`` prints: the stable JSON shapes (``--json``) and the Rich tables."""

from __future__ import annotations

from collections import Counter

from rich.table import Table

from shipyard.cli.output import console, format_number, format_time, new_table, plain
from shipyard.registry.entities import Approval, GateReport, ModelVersion, RegisteredModel, VersionComparison

# -- JSON shapes ---------------------------------------------------------------------------------


def model_dict(m: RegisteredModel) -> dict[str, object]:
    return {
        "name": m.name,
        "description": m.description,
        "allow_multiple_production": m.allow_multiple_production,
        "latest_version": m.latest_version,
        "production_versions": list(m.production_versions),
        "aliases": dict(m.aliases),
        "tags": dict(m.tags),
        "created_at": m.created_at,
        "updated_at": m.updated_at,
    }


def version_dict(v: ModelVersion) -> dict[str, object]:
    t = v.training_data
    return {
        "model": v.model,
        "version": v.version,
        "stage": v.stage,
        "aliases": list(v.aliases),
        "run_id": v.run_id,
        "artifact_path": v.artifact_path,
        "artifact_digest": v.artifact_digest,
        "flavor": v.flavor,
        "created_by": v.created_by,
        "created_at": v.created_at,
        "description": v.description,
        "limitations": v.limitations,
        "training_data": None if t is None else dict(t.__dict__),
        "feature_service": v.feature_service,
        "code_version": v.code_version,
        "metrics": dict(v.metrics),
        "params": dict(v.params),
        "tags": dict(v.tags),
        "signature": dict(v.signature),
    }


def approval_dict(a: Approval) -> dict[str, object]:
    return {k: getattr(a, k) for k in a.__dataclass_fields__}


def report_dict(r: GateReport) -> dict[str, object]:
    return {
        "id": r.id,
        "model": r.model,
        "version": r.version,
        "target_stage": r.target_stage,
        "passed": r.passed,
        "at": r.at,
        "actor": r.actor,
        "dataset_digest": r.dataset_digest,
        "results": [dict(g.__dict__) for g in r.results],
    }


# -- tables -------------------------------------------------------------------------------------


#: Metrics shown first when versions have them.
_PREFERRED = ("roc_auc", "auc", "accuracy", "f1", "rmse", "mae", "r2", "log_loss")


def versions_table(versions: list[ModelVersion], title: str) -> None:
    """One row per version; metric columns for the metrics most versions have, as many as fit."""
    wide = console.width >= 140
    counts = Counter(k for v in versions for k in v.metrics)
    keys = sorted(
        counts,
        key=lambda k: (k not in _PREFERRED, _PREFERRED.index(k) if k in _PREFERRED else 0, -counts[k], k),
    )
    keys = keys[: 5 if wide else 2]
    table = new_table(
        "version", "stage", "aliases", *keys, "run", *(["created"] if wide else []), title=title
    )
    for column in table.columns[1:]:
        column.no_wrap = column.header in ("stage", "run", "created")
        if column.header == "run":
            column.min_width = 32  # a run id is only useful whole: other columns give way
    for v in versions:
        table.add_row(
            str(v.version),
            v.stage.value,
            plain(", ".join(v.aliases)),
            *(format_number(v.metrics.get(k), 4) for k in keys),
            v.run_id,
            *([format_time(v.created_at)] if wide else []),
        )
    console.print(table)


def report_table(report: GateReport) -> None:
    verdict = "[green]passed[/]" if report.passed else "[red]failed[/]"
    table = new_table("gate", "passed", "measured", "threshold", "margin", "detail",
                      title=f"Gates of {report.model}/{report.version} → {report.target_stage.value}: {verdict}")  # fmt: skip
    for r in report.results:
        table.add_row(
            plain(r.name),
            "[green]yes[/]" if r.passed else "[red]no[/]",
            format_number(r.measured, 4),
            format_number(r.threshold, 4),
            format_number(r.margin, 4),
            plain(r.detail),
        )
    console.print(table)


def comparison_table(c: VersionComparison) -> Table:
    a, b = c.left.ref, c.right.ref
    table = new_table("", a, b, "Δ", title=f"{a} vs {b}")
    for key, (x, y) in c.metrics.items():
        table.add_row(f"metric {key}", format_number(x), format_number(y), format_number(c.metric_delta(key)))
    for key in c.differing_params():
        old, new = c.params[key]
        table.add_row(plain(f"param {key}"), plain(old), plain(new), "")
    table.add_row("training data", "same" if c.same_training_data else "different", "", "")
    return table
