"""``shipyard features``: plan and apply definitions, browse the catalog, materialize, read online
rows, inspect statistics, samples and training datasets. Everything works in embedded mode (the
feature store is opened in process); with ``SHIPYARD_URL`` set, ``list``, ``search`` and ``online``
ask the server and the other commands explain that they run where the stores are."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from shipyard.cli import feature_datasets, feature_serving
from shipyard.cli.feature_serving import parse_pairs, render_stats, store_of
from shipyard.cli.output import (
    JsonOption,
    console,
    emit_json,
    format_duration,
    format_time,
    key_value_table,
    new_table,
    short_digest,
)
from shipyard.cli.state import get_client
from shipyard.core.clock import to_datetime

if TYPE_CHECKING:
    from shipyard.features.model import DefinitionSummary
    from shipyard.features.planner import Plan

app = typer.Typer(
    help="Feature definitions, catalog, materialization and online reads.", no_args_is_help=True
)
app.add_typer(feature_datasets.app, name="datasets")
app.command("stats")(feature_serving.stats)
app.command("sample")(feature_serving.sample)
app.command("materialize")(feature_serving.materialize)
app.command("materialize-incremental")(feature_serving.materialize_incremental)
app.command("online")(feature_serving.online)

RepoArgument = Annotated[
    Path, typer.Argument(help="Feature repository: a folder of .py files or one .py file.", show_default=True)
]
_STATUS_STYLE = {"added": "green", "changed": "yellow", "unchanged": "dim", "not in repo": "magenta"}


def _tags(values: Sequence[str]) -> dict[str, str]:
    return {k: str(v) for row in parse_pairs(values, "--tag") for k, v in row.items()}


# -- plan / apply ----------------------------------------------------------------------------------


def _render_plan(plan: Plan, title: str) -> None:
    table = new_table("kind", "name", "status", "version", "changed fields", title=title)
    for change in plan.changes:
        if change.status == "changed":
            version = f"{change.current_version} -> {change.new_version}"
        elif change.status == "added":
            version = f"new -> {change.new_version}"
        else:
            version = str(change.current_version)
        style = _STATUS_STYLE[change.status]
        table.add_row(
            change.kind.replace("_", " "),
            escape(change.name),
            f"[{style}]{change.status}[/]",
            version,
            escape(", ".join(change.changed_fields)) if change.status == "changed" else "",
        )
    console.print(table)
    counts = plan.summary()
    console.print(", ".join(f"{n} {status}" for status, n in counts.items() if n) or "Nothing defined.")


def _plan_dict(plan: Plan) -> list[dict[str, object]]:
    return [
        {
            "kind": c.kind,
            "name": c.name,
            "status": c.status,
            "current_version": c.current_version,
            "new_version": c.new_version,
            "changed_fields": list(c.changed_fields),
            "digest": c.digest,
        }
        for c in plan.changes
    ]


@app.command("plan")
def plan(ctx: typer.Context, repo: RepoArgument = Path("."), json: JsonOption = False) -> None:
    """Validate a feature repository and show what apply would change (writes nothing)."""
    result = store_of(ctx).plan(repo)
    if json:
        emit_json(_plan_dict(result))
        return
    _render_plan(result, f"Plan for {repo}")


@app.command("apply")
def apply(ctx: typer.Context, repo: RepoArgument = Path("."), json: JsonOption = False) -> None:
    """Register every added or changed definition as a new immutable version."""
    client = get_client(ctx)
    result = client.features.apply(repo, actor=client.user)
    if json:
        emit_json(_plan_dict(result))
        return
    _render_plan(result, f"Applied {repo}")
    written = len(result.to_write)
    console.print(
        f"Registered {written} new version(s)."
        if written
        else "Nothing to apply: the registry is up to date."
    )


# -- catalog ---------------------------------------------------------------------------------------


def _summary_dict(d: DefinitionSummary) -> dict[str, object]:
    return {
        "kind": d.kind,
        "name": d.name,
        "version": d.latest_version,
        "description": d.description,
        "owner": d.owner,
        "tags": dict(d.tags),
        "entities": list(d.entities),
        "features": list(d.features),
        "updated_at": to_datetime(d.updated_at),
    }


_SHORT_KIND = {
    "feature_view": "view",
    "on_demand_feature_view": "on-demand",
    "feature_service": "service",
    "request_source": "request",
}


def _render_summaries(found: list[DefinitionSummary], json: bool, title: str) -> None:
    if json:
        emit_json([_summary_dict(d) for d in found])
        return
    if not found:
        console.print("No feature definitions matched.")
        return
    # Names never wrap; on a narrow terminal the free-text columns give way first.
    wide = console.width >= 140
    table = new_table(title=title)
    table.add_column("kind", no_wrap=True)
    table.add_column("name", no_wrap=True, min_width=min(max(len(d.name) for d in found), 40))
    table.add_column("v", justify="right", no_wrap=True)
    table.add_column("entities", no_wrap=True)
    table.add_column("features", overflow="ellipsis", no_wrap=not wide, max_width=None if wide else 26)
    if wide:
        table.add_column("owner", no_wrap=True)
        table.add_column("tags", overflow="fold")
        table.add_column("description", overflow="fold")
    for d in found:
        cells = [
            _SHORT_KIND.get(d.kind, d.kind),
            escape(d.name),
            str(d.latest_version),
            escape(", ".join(d.entities)),
            escape(", ".join(d.features)),
        ]
        if wide:
            cells += [
                escape(d.owner),
                escape(", ".join(f"{k}={v}" for k, v in d.tags.items())),
                escape(d.description),
            ]
        table.add_row(*cells)
    console.print(table)


@app.command("list")
def list_(
    ctx: typer.Context,
    entity: Annotated[str | None, typer.Option("--entity", help="Only definitions of this entity.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="key=value; repeat to require several.")
    ] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="Only definitions owned by this owner.")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind", help="entity, feature_view, on_demand_feature_view, feature_service or request_source."
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """List registered definitions."""
    found = get_client(ctx).feature_serving.list_definitions(
        kind=kind, entity=entity, tags=_tags(tag or []), owner=owner
    )
    _render_summaries(found, json, "Feature definitions")


@app.command("search")
def search(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="Text to look for (case-insensitive).")],
    json: JsonOption = False,
) -> None:
    """Find definitions whose name, description, owner, tags or features contain TEXT."""
    _render_summaries(get_client(ctx).feature_serving.search(text), json, f"Definitions matching {text!r}")


@app.command("describe")
def describe(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="A feature view, on-demand view, service, entity or request source.")
    ],
    json: JsonOption = False,
) -> None:
    """Versions, features, source, TTL, owner, tags, latest statistics and watermark of NAME."""
    found = store_of(ctx).describe(name)
    spec = found.spec
    watermark = None if found.watermark is None else to_datetime(found.watermark[1])
    if json:
        emit_json(
            {
                **_summary_dict(found.summary),
                "spec": dict(spec),
                "versions": [
                    {
                        "version": v.version,
                        "digest": v.spec_digest,
                        "created_at": to_datetime(v.created_at),
                        "created_by": v.created_by,
                    }
                    for v in found.versions
                ],
                "statistics": None if found.statistics is None else list(found.statistics.stats),
                "watermark": watermark,
            }
        )
        return
    s = found.summary
    facts: dict[str, object] = {"kind": s.kind.replace("_", " "), "version": s.latest_version}
    facts |= {
        "owner": s.owner,
        "description": s.description,
        "tags": ", ".join(f"{k}={v}" for k, v in s.tags.items()),
    }
    if s.kind == "feature_view":
        ttl = spec.get("ttl_seconds")
        facts |= {
            "entities": ", ".join(s.entities),
            "source": ", ".join(
                f"{k}={v}" for k, v in spec["source"].items() if k != "schema" and v is not None
            ),
            "timestamp": spec["timestamp_field"],
            "created timestamp": spec.get("created_timestamp_field") or "-",
            "ttl": "none" if ttl is None else format_duration(ttl),
            "transformation": spec.get("transformation") or "-",
            "online": spec.get("online", True),
            "materialized up to": format_time(watermark) if watermark else "never",
        }
    console.print(key_value_table(facts, title=f"{escape(name)}"))
    fields = spec.get("features") or spec.get("join_keys") or spec.get("schema") or []
    if fields and isinstance(fields[0], dict):
        table = new_table("feature", "type", "description", title="Features")
        for f in fields:
            table.add_row(escape(f["name"]), f["dtype"], escape(f.get("description", "")))
        console.print(table)
    elif fields:
        console.print("Features: " + escape(", ".join(map(str, fields))))
    versions = new_table("version", "digest", "created", "by", title="Versions")
    for v in found.versions:
        versions.add_row(
            str(v.version),
            short_digest(v.spec_digest),
            format_time(to_datetime(v.created_at)),
            escape(v.created_by),
        )
    console.print(versions)
    if found.statistics is not None:
        render_stats(
            list(found.statistics.stats),
            f"Statistics ({format_time(to_datetime(found.statistics.computed_at))})",
        )
