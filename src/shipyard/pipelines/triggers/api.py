"""The trigger use cases as one protocol, so code runs the same in process
(:class:`~shipyard.pipelines.triggers.service.TriggerService`) and against a server
(:class:`~shipyard.client.remote_triggers.RemoteTriggers`). ``actor`` is who acts in process; over
HTTP the server acts as the token's user and ignores it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from shipyard.pipelines.triggers.model import Firing, Spec, Trigger, TriggerKind, TriggerStatus


class TriggersAPI(Protocol):
    def create(
        self,
        name: str,
        pipeline: str,
        kind: TriggerKind | str,
        spec: Spec | Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, object] | None = None,
        enabled: bool = True,
        cooldown: int = 0,
        max_concurrent: int | None = None,
        description: str = "",
        actor: str,
    ) -> Trigger: ...

    def get(self, name: str) -> Trigger: ...

    def list_triggers(self, *, pipeline: str | None = None, kind: str | None = None) -> list[Trigger]: ...

    def update(
        self,
        name: str,
        *,
        spec: Spec | Mapping[str, Any] | None = None,
        params: Mapping[str, object] | None = None,
        cooldown: int | None = None,
        max_concurrent: int | bool | None = False,
        description: str | None = None,
        actor: str,
    ) -> Trigger:
        """Change what is given (``max_concurrent=None`` removes the limit, ``False`` keeps it)."""
        ...

    def set_enabled(self, name: str, enabled: bool, *, actor: str) -> Trigger: ...

    def delete(self, name: str, *, actor: str) -> None: ...

    def fire(
        self, name: str, params: Mapping[str, object] | None = None, *, key: str | None = None, actor: str
    ) -> Firing: ...

    def firings(self, name: str, *, limit: int = 50) -> list[Firing]: ...

    def backfill(
        self, pipeline: str, start: datetime, end: datetime, *, trigger: str | None = None, actor: str
    ) -> list[Firing]: ...

    def status(self) -> list[TriggerStatus]: ...
