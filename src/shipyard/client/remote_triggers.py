"""Triggers over HTTP: :class:`RemoteTriggers` implements
:class:`~shipyard.pipelines.triggers.api.TriggersAPI` against a server's ``/api/v1/triggers``
routes, returning the same models and raising the same errors as the in-process service. ``actor``
is ignored: the server acts as the token's user and checks that user's roles."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shipyard.client.http import RemoteClient, segment
from shipyard.pipelines.triggers.api import TriggersAPI
from shipyard.pipelines.triggers.model import (
    Firing,
    FiringStatus,
    Spec,
    Trigger,
    TriggerKind,
    TriggerStatus,
    parse_kind,
    spec_from,
)

Json = dict[str, Any]


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _trigger(d: Json) -> Trigger:
    kind = TriggerKind(d["kind"])
    created = _time(d["created_at"])
    updated = _time(d["updated_at"])
    assert created is not None and updated is not None
    return Trigger(
        id=d["id"],
        name=d["name"],
        pipeline=d["pipeline"],
        kind=kind,
        spec=spec_from(kind, d["spec"]),
        params=d["params"],
        enabled=d["enabled"],
        cooldown_s=d["cooldown"],
        max_concurrent=d["max_concurrent"],
        description=d["description"],
        created_by=d["created_by"],
        created_at=created,
        updated_at=updated,
        last_fired_at=_time(d["last_fired_at"]),
        next_check_at=_time(d["next_check_at"]),
        cursor=None,
    )


def _firing(d: Json) -> Firing:
    due, created = _time(d["due_at"]), _time(d["created_at"])
    assert due is not None and created is not None
    return Firing(
        id=d["id"],
        trigger_id=d["trigger_id"],
        key=d["key"],
        status=FiringStatus(d["status"]),
        due_at=due,
        params=d["params"],
        detail=d["detail"],
        run_id=d["run_id"],
        error=d["error"],
        created_at=created,
        submitted_at=_time(d["submitted_at"]),
    )


class RemoteTriggers(RemoteClient, TriggersAPI):
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
    ) -> Trigger:
        kind = parse_kind(kind)
        body = {
            "name": name,
            "pipeline": pipeline,
            "kind": kind.value,
            "spec": spec.to_dict() if spec is not None and not isinstance(spec, Mapping) else spec,
            "params": dict(params or {}),
            "enabled": enabled,
            "cooldown": cooldown,
            "max_concurrent": max_concurrent,
            "description": description,
        }
        return _trigger(self.connection.json("POST", "/triggers", json=body))

    def get(self, name: str) -> Trigger:
        return _trigger(self.connection.json("GET", f"/triggers/{segment(name)}"))

    def list_triggers(self, *, pipeline: str | None = None, kind: str | None = None) -> list[Trigger]:
        params = {k: v for k, v in (("pipeline", pipeline), ("kind", kind)) if v is not None}
        return [_trigger(t) for t in self.connection.json("GET", "/triggers", params=params)["triggers"]]

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
        body: dict[str, Any] = {}  # only what changes: an absent max_concurrent keeps the limit
        if spec is not None:
            body["spec"] = spec if isinstance(spec, Mapping) else spec.to_dict()
        if params is not None:
            body["params"] = dict(params)
        if cooldown is not None:
            body["cooldown"] = cooldown
        if max_concurrent is not False:
            body["max_concurrent"] = max_concurrent
        if description is not None:
            body["description"] = description
        return _trigger(
            self.connection.json("PATCH", f"/triggers/{segment(name)}", json=body, idempotent=True)
        )

    def set_enabled(self, name: str, enabled: bool, *, actor: str) -> Trigger:
        action = "enable" if enabled else "disable"
        return _trigger(self.connection.json("POST", f"/triggers/{segment(name)}/{action}", idempotent=True))

    def delete(self, name: str, *, actor: str) -> None:
        self.connection.send("DELETE", f"/triggers/{segment(name)}")

    def fire(
        self, name: str, params: Mapping[str, object] | None = None, *, key: str | None = None, actor: str
    ) -> Firing:
        body = {"params": dict(params or {}), "key": key}
        path = f"/triggers/{segment(name)}/fire"
        return _firing(self.connection.json("POST", path, json=body, idempotent=key is not None))

    def firings(self, name: str, *, limit: int = 50) -> list[Firing]:
        data = self.connection.json("GET", f"/triggers/{segment(name)}/firings", params={"limit": limit})
        return [_firing(f) for f in data["firings"]]

    def backfill(
        self, pipeline: str, start: datetime, end: datetime, *, trigger: str | None = None, actor: str
    ) -> list[Firing]:
        body = {"pipeline": pipeline, "start": start.isoformat(), "end": end.isoformat(), "trigger": trigger}
        # Idempotent: slots that ran already are not run again.
        data = self.connection.json("POST", "/backfills", json=body, idempotent=True)
        return [_firing(f) for f in data["firings"]]

    def status(self) -> list[TriggerStatus]:
        data = self.connection.json("GET", "/scheduler/status")
        return [
            TriggerStatus(
                _trigger(t["trigger"]),
                None if t["last_firing"] is None else _firing(t["last_firing"]),
                t["pending"],
            )
            for t in data["triggers"]
        ]
