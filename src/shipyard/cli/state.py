"""What the root command builds once and every sub-command shares: the settings and one client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

from shipyard.config import Settings

if TYPE_CHECKING:
    from shipyard.client import Client


@dataclass
class State:
    """Settings built at the entry point, and a client opened on first use and closed at exit."""

    settings: Settings
    _client: Client | None = field(default=None, repr=False)

    @property
    def client(self) -> Client:
        if self._client is None:
            from shipyard.client import Client

            self._client = Client(self.settings)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            client.close()


def get_state(ctx: typer.Context) -> State:
    """The root command's :class:`State` (set by its callback before any sub-command runs)."""
    state = ctx.find_root().obj
    if not isinstance(state, State):
        raise RuntimeError("the shipyard root command did not set up its state")
    return state


def get_client(ctx: typer.Context) -> Client:
    return get_state(ctx).client
