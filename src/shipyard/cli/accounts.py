"""``shipyard users``, ``shipyard tokens`` and ``shipyard roles``: accounts for the server (embedded
database only: run them on the server host)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.markup import escape

from shipyard.accounts.model import Grant, Token, User
from shipyard.accounts.permissions import ROLES
from shipyard.cli.output import JsonOption, console, emit_json, err_console, format_time, new_table, plain
from shipyard.cli.state import get_client
from shipyard.errors import InvalidInput

users_app = typer.Typer(
    help="Create and list users (run where the server's database is).", no_args_is_help=True
)
tokens_app = typer.Typer(help="Create, list and revoke API tokens for the server.", no_args_is_help=True)
roles_app = typer.Typer(
    help="Grant, revoke and list roles (run where the server's database is).", no_args_is_help=True
)

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_LIFETIME = re.compile(r"\s*(\d+)\s*([smhdw])\s*")


def parse_lifetime(text: str) -> timedelta:
    """``90s``, ``45m``, ``12h``, ``30d`` or ``2w`` as a timedelta."""
    match = _LIFETIME.fullmatch(text.lower())
    if match is None or int(match[1]) == 0:
        raise InvalidInput(
            f"--expires-in must be a positive number followed by s, m, h, d or w (like 30d or 12h), got {text!r}",
            field="expires_in",
        )
    return timedelta(**{UNITS[match[2]]: int(match[1])})


def user_dict(user: User) -> dict[str, object]:
    return {"id": user.id, "name": user.name, "created_at": user.created_at, "disabled": user.disabled}


def token_dict(token: Token, user: str) -> dict[str, object]:
    return {
        "id": token.id,
        "user": user,
        "name": token.name,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "last_used_at": token.last_used_at,
    }


def token_state(token: Token, now: datetime) -> str:
    if token.revoked_at is not None:
        return "[red]revoked[/]"
    if token.expires_at is not None and now >= token.expires_at:
        return "[yellow]expired[/]"
    return "[green]active[/]"


@users_app.command("create")
def create_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name: 1-150 characters, no spaces.", show_default=False)],
    role: Annotated[
        str | None,
        typer.Option("--role", help=f"Grant this role globally ({', '.join(ROLES)}); e.g. the first admin."),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Create a user (optionally with a global role). Without a role a user can do nothing yet."""
    client = get_client(ctx)
    user = client.accounts.create_user(name, role=role, actor=client.user)
    if json:
        emit_json(user_dict(user))
        return
    console.print(f"Created user [bold]{escape(user.name)}[/] ({user.id}).")
    if role is None:
        console.print(f"Grant a role with: shipyard roles grant {escape(user.name)} viewer")
    console.print(f"Give them a token with: shipyard tokens create {escape(user.name)}")


@users_app.command("disable")
def disable_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user to disable.", show_default=False)],
) -> None:
    """Disable a user: their tokens stop working at once."""
    client = get_client(ctx)
    user = client.accounts.disable_user(name, actor=client.user)
    console.print(f"Disabled user [bold]{escape(user.name)}[/].")


@users_app.command("enable")
def enable_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user to enable again.", show_default=False)],
) -> None:
    """Enable a disabled user: their tokens that have not expired or been revoked work again."""
    client = get_client(ctx)
    user = client.accounts.enable_user(name, actor=client.user)
    console.print(f"Enabled user [bold]{escape(user.name)}[/].")


@users_app.command("list")
def list_users(ctx: typer.Context, json: JsonOption = False) -> None:
    """List users."""
    users = get_client(ctx).accounts.list_users()
    if json:
        emit_json([user_dict(u) for u in users])
        return
    table = new_table("id", "name", "created", "state", title="Users")
    for u in users:
        table.add_row(
            plain(u.id), plain(u.name), format_time(u.created_at), "disabled" if u.disabled else "active"
        )
    console.print(table)


@tokens_app.command("create")
def create_token(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="The user the token acts as.", show_default=False)],
    name: Annotated[str, typer.Option("--name", help="A label to recognise the token by.")] = "default",
    expires_in: Annotated[
        str | None,
        typer.Option(
            "--expires-in",
            help="Lifetime such as 30d, 12h, 45m, 2w (default: the token_lifetime_days setting, 90).",
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Create an API token. The secret is printed once, on stdout, and cannot be shown again."""
    lifetime = None if expires_in is None else parse_lifetime(expires_in)
    client = get_client(ctx)
    issued = client.accounts.create_token(user, name=name, expires_in=lifetime, actor=client.user)
    if json:
        emit_json({**token_dict(issued.token, user), "secret": issued.secret})
        return
    expiry = (
        "never expires"
        if issued.token.expires_at is None
        else f"expires {format_time(issued.token.expires_at)}"
    )
    err_console.print(f"Created token {issued.token.id} ({escape(name)}) for {escape(user)}; it {expiry}.")
    typer.echo(issued.secret)
    err_console.print(
        "[bold yellow]warning:[/] this is the only time the secret is shown. Store it now "
        "(e.g. as SHIPYARD_TOKEN); only its hash is kept."
    )


@tokens_app.command("list")
def list_tokens(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="Whose tokens to list.", show_default=False)],
    json: JsonOption = False,
) -> None:
    """List a user's tokens (never their secrets)."""
    tokens = get_client(ctx).accounts.list_tokens(user)
    if json:
        emit_json([token_dict(t, user) for t in tokens])
        return
    now = datetime.now(UTC)
    table = new_table("id", "name", "state", "created", "expires", "last used", title=f"Tokens of {user}")
    for t in tokens:
        table.add_row(
            plain(t.id),
            plain(t.name),
            token_state(t, now),
            format_time(t.created_at),
            format_time(t.expires_at) if t.expires_at else "never",
            format_time(t.last_used_at) if t.last_used_at else "never",
        )
    console.print(table)


@tokens_app.command("revoke")
def revoke_token(
    ctx: typer.Context,
    token_id: Annotated[
        str, typer.Argument(help="The token's id (see `shipyard tokens list`).", show_default=False)
    ],
) -> None:
    """Revoke a token: it stops working at once. Revoking twice is harmless."""
    client = get_client(ctx)
    token = client.accounts.revoke_token(token_id, actor=client.user)
    console.print(f"Revoked token {token.id} ({escape(token.name)}) at {format_time(token.revoked_at)}.")


# -- roles -----------------------------------------------------------------------------------------

ModelOption = Annotated[
    str | None, typer.Option("--model", help="Scope the grant to this model only.", show_default=False)
]
ExperimentOption = Annotated[
    str | None,
    typer.Option("--experiment", help="Scope the grant to this experiment only.", show_default=False),
]


def grant_dict(grant: Grant) -> dict[str, object]:
    return {
        "user": grant.user,
        "role": grant.role,
        "scope": grant.scope,
        "granted_by": grant.granted_by,
        "granted_at": grant.granted_at,
    }


@roles_app.command("grant")
def grant_role(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="Who receives the role.", show_default=False)],
    role: Annotated[str, typer.Argument(help=f"One of: {', '.join(ROLES)}.", show_default=False)],
    model: ModelOption = None,
    experiment: ExperimentOption = None,
) -> None:
    """Grant a role, globally or on one model or experiment. Granting it twice changes nothing."""
    client = get_client(ctx)
    grant = client.accounts.grant_role(user, role, model=model, experiment=experiment, actor=client.user)
    console.print(f"[bold]{escape(grant.user)}[/] holds [bold]{grant.role}[/] ({escape(grant.scope)}).")


@roles_app.command("revoke")
def revoke_role(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="Whose role to revoke.", show_default=False)],
    role: Annotated[str, typer.Argument(help=f"One of: {', '.join(ROLES)}.", show_default=False)],
    model: ModelOption = None,
    experiment: ExperimentOption = None,
) -> None:
    """Revoke a role in exactly the scope it was granted in."""
    client = get_client(ctx)
    grant = client.accounts.revoke_role(user, role, model=model, experiment=experiment, actor=client.user)
    console.print(
        f"Revoked [bold]{grant.role}[/] ({escape(grant.scope)}) from [bold]{escape(grant.user)}[/]."
    )


@roles_app.command("list")
def list_roles(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Argument(help="Only this user's grants.", show_default=False)] = None,
    json: JsonOption = False,
) -> None:
    """List role grants."""
    grants = get_client(ctx).accounts.list_grants(user)
    if json:
        emit_json([grant_dict(g) for g in grants])
        return
    table = new_table("user", "role", "scope", "granted by", "granted", title="Role grants")
    for g in grants:
        table.add_row(plain(g.user), g.role, plain(g.scope), plain(g.granted_by), format_time(g.granted_at))
    console.print(table)
