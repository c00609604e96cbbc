"""``shipyard models``: the model registry from a terminal. Versions are named ``NAME/VERSION``
or ``NAME@ALIAS`` (parsed by :func:`shipyard.registry.refs.parse_ref`); the acting user is the
client's user in embedded mode. With ``SHIPYARD_URL`` set every command goes to the server
(:class:`~shipyard.client.remote_registry.RemoteRegistry`), which acts as the token's user and
checks its roles."""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from shipyard.cli import model_views as views
from shipyard.cli.output import JsonOption, console, emit_json, format_number, format_time, new_table, plain
from shipyard.cli.run_view import resolve_run_id
from shipyard.cli.state import get_client
from shipyard.errors import InvalidInput
from shipyard.registry.entities import (
    GatePolicy,
    ModelVersion,
)
from shipyard.registry.refs import ModelRef, model_name, parse_ref

if TYPE_CHECKING:  # pandas and the registry API load only for the commands that use them
    import pandas as pd

    from shipyard.registry.api import RegistryAPI

app = typer.Typer(help="Register, promote, gate, approve, compare and document models.", no_args_is_help=True)

Ref = Annotated[
    str,
    typer.Argument(
        help="A version: NAME/VERSION (churn/3), NAME VERSION (churn 3) or NAME@ALIAS (churn@champion)."
    ),
]
#: The version number when a version is written ``NAME VERSION`` (two words); nothing after ``NAME/VERSION``.
VersionWord = Annotated[
    str | None, typer.Argument(metavar="[VERSION]", help="The version, after a bare NAME.")
]
Name = Annotated[str, typer.Argument(help="Model name.")]
Comment = Annotated[str, typer.Option("--comment", "-m", help="Why (kept in the history).")]
StageOption = Annotated[str, typer.Option("--stage", "-s", help="Target stage.")]


def _registry(ctx: typer.Context) -> tuple[RegistryAPI, str]:
    client = get_client(ctx)
    return client.registry, client.user


def _version(registry: RegistryAPI, ref: str) -> ModelVersion:
    return registry.resolve(parse_ref(ref, field="ref"))


def version_words(ref: str, words: list[str] | None) -> tuple[str, list[str]]:
    """Every command naming a version takes it as ``churn/3``, ``churn 3`` or ``churn@champion``:
    ``("churn", ["3", "production"])`` -> ``("churn/3", ["production"])``. Words after the version
    are returned for the command's own arguments."""
    rest = list(words or [])
    if "/" not in ref and "@" not in ref and rest and rest[0].isdigit():
        return f"{ref}/{rest[0]}", rest[1:]
    return ref, rest


def _no_extra(rest: list[str], usage: str) -> None:
    if rest:
        raise InvalidInput(f"unexpected {' '.join(rest)!r}: write `shipyard models {usage}`", field="args")


def read_frame(path: Path, field: str = "data") -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame; InvalidInput for any other suffix."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise InvalidInput(f"{field} must be a .csv or .parquet file, got {str(path)!r}", field=field)


@app.command("list")
def list_(ctx: typer.Context, json: JsonOption = False) -> None:
    """List registered models."""
    registry, _ = _registry(ctx)
    models = registry.list_models()
    if json:
        emit_json([views.model_dict(m) for m in models])
        return
    if not models:
        console.print("No models yet. Register one with `shipyard models register NAME --run RUN_ID`.")
        return
    table = new_table("name", "latest", "production", "aliases", "description", title="Models")
    for m in models:
        aliases = ", ".join(f"{a}→{v}" for a, v in m.aliases.items())
        production = ", ".join(map(str, m.production_versions)) or "—"
        table.add_row(
            plain(m.name), str(m.latest_version or "—"), production, plain(aliases), plain(m.description)
        )
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME, NAME/VERSION, NAME VERSION or NAME@ALIAS.")],
    version: VersionWord = None,
    json: JsonOption = False,
) -> None:
    """Show a model (with its versions) or one version."""
    registry, _ = _registry(ctx)
    ref, rest = version_words(ref, [version] if version else [])
    _no_extra(rest, "show NAME[/VERSION]")
    if "/" not in ref and "@" not in ref:
        model = registry.get_model(ref)
        versions = registry.list_versions(ref)
        if json:
            emit_json({**views.model_dict(model), "versions": [views.version_dict(v) for v in versions]})
            return
        console.print(f"[bold]{escape(model.name)}[/] {escape(model.description)}")
        views.versions_table(versions, f"Versions of {model.name}")
        return
    v = _version(registry, ref)
    if json:
        emit_json(views.version_dict(v))
        return
    table = new_table("field", "value", title=f"{v.model}/{v.version}")
    data = v.training_data
    for key, value in (
        ("stage", v.stage.value),
        ("aliases", ", ".join(v.aliases) or "—"),
        ("flavor", v.flavor),
        ("run", v.run_id),
        ("artifact", v.artifact_digest),
        ("training data", f"{data.name} {data.digest}" if data else "—"),
        ("feature service", v.feature_service or "—"),
        ("code version", v.code_version or "—"),
        ("created", f"{format_time(v.created_at)} by {v.created_by}"),
        ("description", v.description or "—"),
        ("limitations", v.limitations or "—"),
    ):
        table.add_row(key, plain(value))
    for metric, number in sorted(v.metrics.items()):
        table.add_row(f"metric {metric}", format_number(number))
    console.print(table)


@app.command("versions")
def versions(
    ctx: typer.Context,
    name: Name,
    stage: Annotated[str | None, typer.Option("--stage", "-s", help="Only versions in this stage.")] = None,
    json: JsonOption = False,
) -> None:
    """List a model's versions."""
    registry, _ = _registry(ctx)
    found = registry.list_versions(name, stage)
    if json:
        emit_json([views.version_dict(v) for v in found])
        return
    views.versions_table(found, f"Versions of {name}")


# -- registering and moving ------------------------------------------------------------------------


@app.command("register")
def register(
    ctx: typer.Context,
    name: Name,
    run: Annotated[
        str, typer.Option("--run", "-r", help="Id (or a unique prefix) of the run that logged the model.")
    ],
    artifact: Annotated[str, typer.Option("--artifact", help="The run's model artifact path.")] = "model",
    description: Annotated[
        str, typer.Option("--description", "-d", help="What this version is (shown on the model card).")
    ] = "",
    limitations: Annotated[
        str, typer.Option("--limitations", help="Known limitations (shown on the model card).")
    ] = "",
    json: JsonOption = False,
) -> None:
    """Register a run's packaged model as the next version of NAME."""
    registry, user = _registry(ctx)
    run = resolve_run_id(get_client(ctx).tracking, run)
    v = registry.create_version(
        name, run, artifact, description=description, limitations=limitations, actor=user
    )
    if json:
        emit_json(views.version_dict(v))
        return
    console.print(f"Registered [bold]{escape(v.ref)}[/] from run {v.run_id} ({v.flavor}).")


@app.command("transition")
def transition(
    ctx: typer.Context,
    ref: Ref,
    words: Annotated[
        list[str], typer.Argument(metavar="[VERSION] STAGE", help="staging, production, archived or retired.")
    ],
    comment: Comment = "",
) -> None:
    """Move a version to another stage (gates and approvals of the model's policy apply)."""
    ref, rest = version_words(ref, words)
    if len(rest) != 1:
        raise InvalidInput("write `shipyard models transition NAME/VERSION STAGE`", field="stage")
    stage = rest[0]
    registry, user = _registry(ctx)
    v = _version(registry, ref)
    moved = registry.transition(v.model, v.version, stage, actor=user, comment=comment)
    console.print(f"{escape(moved.ref)} is now [bold]{moved.stage.value}[/].")


@app.command("rollback")
def rollback(ctx: typer.Context, name: Name, comment: Comment = "") -> None:
    """Restore the previous production version of NAME."""
    registry, user = _registry(ctx)
    restored = registry.rollback(name, actor=user, comment=comment)
    console.print(f"Rolled back: {escape(restored.ref)} is in production again.")


@app.command("alias")
def alias(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(help="NAME/VERSION to point the alias at, or NAME@ALIAS with --delete.")
    ],
    words: Annotated[
        list[str] | None,
        typer.Argument(metavar="[VERSION] ALIAS", help="The alias (champion, challenger, ...)."),
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias NAME@ALIAS.")] = False,
) -> None:
    """Point an alias at a version (`alias churn/3 champion` or `alias churn 3 champion`), or remove
    one (`alias churn@champion --delete`)."""
    ref, rest = version_words(ref, words)
    name = rest.pop(0) if rest else None
    _no_extra(rest, "alias NAME/VERSION ALIAS")
    registry, user = _registry(ctx)
    parsed = parse_ref(ref, field="ref")
    if delete:
        if parsed.alias is None:
            raise InvalidInput("--delete takes NAME@ALIAS", field="ref")
        registry.delete_alias(parsed.name, parsed.alias, actor=user)
        console.print(f"Removed alias {escape(str(parsed))}.")
        return
    if name is None or parsed.version is None:
        raise InvalidInput("write `shipyard models alias NAME/VERSION ALIAS`", field="alias")
    v = registry.set_alias(parsed.name, name, parsed.version, actor=user)
    console.print(f"{escape(parsed.name)}@{escape(name)} → version {v.version}.")


@app.command("tag")
def tag(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="NAME (the model), NAME/VERSION or NAME VERSION.")],
    tags: Annotated[list[str] | None, typer.Argument(help="KEY=VALUE pairs to set.")] = None,
    delete: Annotated[str | None, typer.Option("--delete", help="Remove this tag key.")] = None,
) -> None:
    """Set (or --delete) tags on a model or a version."""
    registry, user = _registry(ctx)
    target, tags = version_words(target, tags)
    parsed = (
        parse_ref(target, field="target") if "/" in target or "@" in target else ModelRef(model_name(target))
    )
    version = registry.resolve(parsed).version if parsed.version or parsed.alias else None
    if delete:
        registry.delete_tag(parsed.name, delete, version=version, actor=user)
    pairs = {}
    for item in tags or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"tag {item!r} must be KEY=VALUE", field="tags")
        pairs[key] = value
    if pairs:
        registry.set_tags(parsed.name, pairs, version=version, actor=user)
    if not pairs and not delete:
        raise InvalidInput("give KEY=VALUE pairs to set or --delete KEY", field="tags")
    console.print("Tags updated.")


# -- approvals ------------------------------------------------------------------------------------


@app.command("request-approval")
def request_approval(
    ctx: typer.Context,
    ref: Ref,
    words: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[VERSION] [STAGE]", help="The target stage (default production, or --stage)."
        ),
    ] = None,
    stage: StageOption = "production",
    comment: Comment = "",
    json: JsonOption = False,
) -> None:
    """Ask a reviewer to approve moving a version to a stage:
    `request-approval churn/3 production` (or `churn 3 production`, or `churn/3 --stage production`)."""
    ref, rest = version_words(ref, words)
    if rest:
        stage = rest.pop(0)
    _no_extra(rest, "request-approval NAME/VERSION [STAGE]")
    registry, user = _registry(ctx)
    v = _version(registry, ref)
    request = registry.request_approval(v.model, v.version, stage, actor=user, comment=comment)
    if json:
        emit_json(views.approval_dict(request))
        return
    console.print(f"Requested approval {request.id} for {escape(v.ref)} → {request.target_stage.value}.")


def _decide(ctx: typer.Context, request_id: str, approve: bool, comment: str) -> None:
    registry, user = _registry(ctx)
    decided = registry.decide_approval(request_id, approve, actor=user, comment=comment)
    console.print(
        f"Request {decided.id} for {escape(decided.model)}/{decided.version} {decided.status.value}."
    )


@app.command("approve")
def approve(
    ctx: typer.Context,
    request_id: Annotated[str, typer.Argument(help="Approval request id.")],
    comment: Comment = "",
) -> None:
    """Approve someone else's request."""
    _decide(ctx, request_id, True, comment)


@app.command("reject")
def reject(
    ctx: typer.Context,
    request_id: Annotated[str, typer.Argument(help="Approval request id.")],
    comment: Comment = "",
) -> None:
    """Reject someone else's request."""
    _decide(ctx, request_id, False, comment)


# -- gates ----------------------------------------------------------------------------------------


@app.command("policy")
def policy(
    ctx: typer.Context,
    name: Name,
    set_: Annotated[
        str | None, typer.Option("--set", help="The policy as JSON, or @FILE holding it.")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the policy.")] = False,
    json: JsonOption = False,
) -> None:
    """Show, set or clear a model's promotion gate policy."""
    registry, user = _registry(ctx)
    current: GatePolicy | None
    if clear:
        current = registry.set_policy(name, None, actor=user)
    elif set_ is not None:
        text = Path(set_[1:]).read_text() if set_.startswith("@") else set_
        try:
            data = jsonlib.loads(text)
        except jsonlib.JSONDecodeError as exc:
            raise InvalidInput(f"--set is not valid JSON: {exc}", field="policy") from None
        current = registry.set_policy(name, data, actor=user)
    else:
        current = registry.get_policy(name)
    if json or current is None:
        if current is None and not json:
            console.print(f"{escape(name)} has no gate policy.")
            return
        emit_json(None if current is None else current.to_dict())
        return
    console.print_json(jsonlib.dumps(current.to_dict()))


@app.command("gates")
def gates(
    ctx: typer.Context,
    ref: Ref,
    version: VersionWord = None,
    stage: StageOption = "production",
    data: Annotated[Path | None, typer.Option("--data", help="Evaluation data (.csv or .parquet).")] = None,
    label: Annotated[str | None, typer.Option("--label", help="The label column of --data.")] = None,
    json: JsonOption = False,
) -> None:
    """Evaluate a version's promotion gates on --data, or show the stored evaluations."""
    ref, rest = version_words(ref, [version] if version else [])
    _no_extra(rest, "gates NAME/VERSION")
    registry, user = _registry(ctx)
    v = _version(registry, ref)
    if data is None:
        reports = registry.gate_reports(v.model, v.version)
        if json:
            emit_json([views.report_dict(r) for r in reports])
            return
        if not reports:
            console.print(
                f"No gate evaluations for {escape(v.ref)} yet (evaluate with --data FILE --label COLUMN)."
            )
        for r in reports:
            views.report_table(r)
        return
    if label is None:
        raise InvalidInput("--label is required with --data", field="label")
    report = registry.evaluate_gates(v.model, v.version, stage, read_frame(data), label=label, actor=user)
    if json:
        emit_json(views.report_dict(report))
    else:
        views.report_table(report)
    if not report.passed:
        raise typer.Exit(1)


# -- comparison, cards, ONNX ------------------------------------------------------------------------


@app.command("compare")
def compare(ctx: typer.Context, left: Ref, right: Ref, json: JsonOption = False) -> None:
    """Compare two versions of a model: metrics, params, training data and features."""
    registry, _ = _registry(ctx)
    a, b = _version(registry, left), _version(registry, right)
    if a.model != b.model:
        raise InvalidInput(
            f"compare two versions of one model, got {a.model!r} and {b.model!r}", field="right"
        )
    c = registry.compare(a.model, a.version, b.version)
    if json:
        emit_json(
            {
                "left": a.ref,
                "right": b.ref,
                "metrics": {k: list(v) for k, v in c.metrics.items()},
                "params": {k: list(v) for k, v in c.params.items()},
                "same_training_data": c.same_training_data,
                "features_added": list(c.features_added),
                "features_removed": list(c.features_removed),
                "features_retyped": list(c.features_retyped),
            }
        )
        return
    console.print(views.comparison_table(c))
    for label, names in (
        ("added", c.features_added),
        ("removed", c.features_removed),
        ("retyped", c.features_retyped),
    ):
        if names:
            console.print(f"Features {label}: {escape(', '.join(names))}")


@app.command("card")
def card(
    ctx: typer.Context,
    ref: Ref,
    version: VersionWord = None,
    format: Annotated[str, typer.Option("--format", "-f", help="md or html.")] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Render a version's model card."""
    if format not in ("md", "html"):
        raise InvalidInput(f"--format must be md or html, got {format!r}", field="format")
    ref, rest = version_words(ref, [version] if version else [])
    _no_extra(rest, "card NAME/VERSION")
    registry, _ = _registry(ctx)
    v = _version(registry, ref)
    markdown, html = registry.card(v.model, v.version)
    text = markdown if format == "md" else html
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"Wrote the model card of {escape(v.ref)} to {escape(str(output))}.")


@app.command("export-onnx")
def export_onnx(
    ctx: typer.Context,
    ref: Ref,
    output: Annotated[Path, typer.Option("--output", "-o", help="The .onnx file to write.")],
    version: VersionWord = None,
    heldout: Annotated[
        Path | None, typer.Option("--heldout", help="Held-out data (.csv/.parquet) for the parity check.")
    ] = None,
    tolerance: Annotated[
        float, typer.Option("--tolerance", help="Largest allowed absolute difference.")
    ] = 1e-4,
    json: JsonOption = False,
) -> None:
    """Convert a scikit-learn version to ONNX, check parity, and write the .onnx file."""
    from shipyard.packaging.onnx_export import export_onnx as convert
    from shipyard.packaging.package import payload_entries

    ref, rest = version_words(ref, [version] if version else [])
    _no_extra(rest, "export-onnx NAME/VERSION")
    registry, _ = _registry(ctx)
    loaded = registry.load(parse_ref(ref, field="ref"))
    frame = None if heldout is None else read_frame(heldout, "heldout")
    package, reports = convert(loaded, heldout=frame, tolerance=tolerance)
    output.write_bytes(payload_entries(package)["model.onnx"])
    if json:
        emit_json({"output": output, "parity": [r.to_dict() for r in reports]})
        return
    table = new_table("data", "rows", "max abs diff", "tolerance", "passed", title="ONNX parity")
    for r in reports:
        table.add_row(
            r.dataset, str(r.rows), f"{r.max_abs_diff:.3g}", f"{r.tolerance:g}", "yes" if r.passed else "no"
        )
    console.print(table)
    console.print(f"Wrote {escape(str(output))}.")
