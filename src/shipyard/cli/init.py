"""``shipyard init``: set up embedded state and a commented ``shipyard.toml`` in this folder."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.panel import Panel

from shipyard.cli.output import console
from shipyard.cli.state import get_state
from shipyard.config import DEFAULT_CONFIG_FILE, Settings

#: Example values for settings whose default is "unset", shown commented out in the template.
EXAMPLES = {
    "db_url": '"postgresql+psycopg://shipyard:secret@localhost:5432/shipyard"',
    "artifacts": '"s3://my-bucket/shipyard"',
    "s3_endpoint_url": '"http://localhost:9000"',
    "url": '"http://localhost:8080"',
    "token": '"shp_…"  # better: the SHIPYARD_TOKEN environment variable',
    "user": '"alice"',
    "online_store": '"redis://localhost:6379/0"',
}

NEXT_STEPS = """\
[bold]shipyard demo[/]                  features, a model sweep and a gated champion, end to end
[bold]shipyard config show[/]           every setting, its value and where it came from
[bold]shipyard experiments list[/]      what has been tracked so far
[bold]shipyard server[/]                REST API and web UI on http://127.0.0.1:8080

In Python:
    from shipyard.client import Client
    with Client().start_run(experiment="my-first") as run:
        run.log_metric("accuracy", 0.9)"""


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_template() -> str:
    """A ``shipyard.toml`` with every setting documented and commented out at its default."""
    lines = [
        "# Shipyard configuration, read from the folder you run shipyard in.",
        "# Environment variables SHIPYARD_<NAME> override the values here, and these override defaults.",
        "# Uncomment what you want to change; `shipyard config show` prints the effective settings.",
        "",
    ]
    for name, field in Settings.model_fields.items():
        example = EXAMPLES.get(name) if field.default is None else _toml_value(field.default)
        lines += [f"# {field.description}", f"# {name} = {example}", ""]
    return "\n".join(lines)


def init(ctx: typer.Context) -> None:
    """Create the Shipyard home folder and database, and a commented shipyard.toml here if absent."""
    settings = get_state(ctx).settings
    done: list[str] = []
    if settings.remote:
        done.append(f"remote mode: runs go to {escape(str(settings.url))}; nothing to create locally")
    else:
        home = settings.home.resolve()
        existed = home.is_dir()
        home.mkdir(parents=True, exist_ok=True)
        done.append(f"{'kept' if existed else 'created'} home folder {escape(str(home))}")
        client = get_state(ctx).client
        client.upgrade_database()
        revision, _ = client.database_revision()
        done.append(f"metadata database {escape(settings.resolved_db_url())} is at revision {revision}")
        done.append(f"artifacts are stored in {escape(settings.resolved_artifacts())}")
    config = Path.cwd() / DEFAULT_CONFIG_FILE
    if config.exists():
        done.append(f"kept the existing {escape(str(config))}")
    else:
        config.write_text(config_template(), encoding="utf-8")
        done.append(f"wrote a commented configuration template to {escape(str(config))}")
    console.print("[bold green]Shipyard is ready.[/]")
    for line in done:
        console.print(f"  • {line}")
    console.print(Panel(NEXT_STEPS, title="Next steps", title_align="left", expand=False))
