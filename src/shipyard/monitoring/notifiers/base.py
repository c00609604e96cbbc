"""The notifier port: what an alert sends, and the one method every channel implements.

A notifier delivers one :class:`Notification` or raises; it does not retry. Retries, backoff and
keeping a slow channel from delaying a monitor are the dispatcher's job
(:mod:`shipyard.monitoring.dispatch`). Settings come from configuration or a user, so each
notifier validates them in ``from_settings`` and raises :class:`InvalidInput` naming the field.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar, Literal, Self

from shipyard.errors import BackendUnavailable, InvalidInput

if TYPE_CHECKING:
    from shipyard.monitoring.alerting import AlertRule, Event

NotificationStatus = Literal["firing", "resolved"]


class DeliveryRejected(BackendUnavailable):
    """The channel answered and will not take this notification (a 4xx from a webhook, recipients
    refused); sending it again would not help, so the dispatcher does not retry it."""


@dataclass(frozen=True)
class Notification:
    """One alert event as every channel renders it. ``alert_id`` is stable for one firing (the
    resolve carries the same id), so receivers can thread or deduplicate on it."""

    alert_id: str
    status: NotificationStatus
    rule: str
    figure: str
    value: float
    threshold: float
    op: str
    severity: str
    monitor: str
    deployment: str
    at_ms: int
    summary: str
    link: str | None = None

    def __post_init__(self) -> None:
        if self.status not in ("firing", "resolved"):
            raise InvalidInput(f"status must be 'firing' or 'resolved', got {self.status!r}", field="status")
        if not self.alert_id:
            raise InvalidInput("alert_id must not be empty", field="alert_id")

    @classmethod
    def for_event(
        cls,
        rule: AlertRule,
        event: Event,
        value: float,
        *,
        alert_id: str,
        monitor: str,
        deployment: str,
        at_ms: int,
        link: str | None = None,
        summary: str | None = None,
    ) -> Notification:
        """The notification of ``event`` (from :func:`~shipyard.monitoring.alerting.step`), with a
        one-line summary such as ``drift.share is 0.45, above 0.3`` unless one is given."""
        if summary is None:
            if event == "fired":
                summary = f"{rule.figure} is {_number(value)}, {_WORDS[rule.op]} {_number(rule.threshold)}"
            else:
                summary = f"{rule.figure} is back to {_number(value)} (alert when {rule.op} {_number(rule.threshold)})"
        return cls(
            alert_id=alert_id,
            status="firing" if event == "fired" else "resolved",
            rule=rule.name,
            figure=rule.figure,
            value=value,
            threshold=rule.threshold,
            op=rule.op,
            severity=rule.severity,
            monitor=monitor,
            deployment=deployment,
            at_ms=at_ms,
            summary=summary,
            link=link,
        )

    @property
    def title(self) -> str:
        """One line: ``[FIRING] critical: drift-high on churn-monitor``."""
        return f"[{self.status.upper()}] {self.severity}: {self.rule} on {self.monitor}"

    @property
    def condition(self) -> str:
        return f"{self.figure} = {_number(self.value)} ({self.op} {_number(self.threshold)})"

    @property
    def at_iso(self) -> str:
        return datetime.fromtimestamp(self.at_ms / 1000, tz=UTC).isoformat(timespec="seconds")

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        for key in ("value", "threshold"):
            if not math.isfinite(data[key]):
                data[key] = None  # JSON has no NaN or infinity
        return data


_WORDS = {">": "above", ">=": "at or above", "<": "below", "<=": "at or below"}


def _number(value: float) -> str:
    return f"{value:.4g}"


class Notifier(ABC):
    """A channel alerts are sent to. ``name`` is how rules refer to a configured instance (the
    kind when not given)."""

    kind: ClassVar[str]

    def __init__(self, *, name: str | None = None) -> None:
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise InvalidInput(f"name must be a non-empty string, got {name!r}", field="name")
        self.name = name or self.kind

    @abstractmethod
    def send(self, notification: Notification) -> None:
        """Deliver ``notification`` once; raise (any exception) when it was not delivered."""

    def close(self) -> None:  # noqa: B027 - optional: most notifiers hold nothing open
        """Release what the notifier holds open (connections); it may be used again afterwards."""

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Mapping[str, object], *, name: str | None = None) -> Self:
        """A notifier from user or configuration settings, validated field by field."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class SettingsReader:
    """Reads a settings mapping field by field, so each bad value is reported by name."""

    def __init__(self, kind: str, settings: Mapping[str, object], fields: tuple[str, ...]) -> None:
        if not isinstance(settings, Mapping):
            raise InvalidInput(f"{kind} notifier settings must be a mapping", field="settings")
        unknown = sorted(set(settings) - set(fields))
        if unknown:
            raise InvalidInput(
                f"unknown {kind} notifier setting {unknown[0]!r} (known: {', '.join(fields)})",
                field=f"settings.{unknown[0]}",
            )
        self._kind = kind
        self._settings = settings

    def has(self, key: str) -> bool:
        return self._settings.get(key) is not None

    def text(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        value = self._settings.get(key)
        if value is None:
            if required:
                raise InvalidInput(f"{self._kind} notifier needs {key!r}", field=f"settings.{key}")
            return default
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"{key} must be a non-empty string, got {value!r}", field=f"settings.{key}")
        return value

    def number(self, key: str, default: float) -> float:
        value = self._settings.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
            raise InvalidInput(f"{key} must be a positive number, got {value!r}", field=f"settings.{key}")
        return float(value)

    def integer(self, key: str, *, required: bool = False, default: int = 0) -> int:
        value = self._settings.get(key)
        if value is None:
            if required:
                raise InvalidInput(f"{self._kind} notifier needs {key!r}", field=f"settings.{key}")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{key} must be an integer, got {value!r}", field=f"settings.{key}")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self._settings.get(key, default)
        if not isinstance(value, bool):
            raise InvalidInput(f"{key} must be true or false, got {value!r}", field=f"settings.{key}")
        return value

    def texts(self, key: str) -> list[str]:
        value = self._settings.get(key)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not value:
            raise InvalidInput(f"{key} must be a non-empty list of strings", field=f"settings.{key}")
        for position, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise InvalidInput(f"{key}[{position}] must be a non-empty string", field=f"settings.{key}")
        return list(value)

    def string_map(self, key: str) -> dict[str, str]:
        value = self._settings.get(key) or {}
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise InvalidInput(f"{key} must map names to strings", field=f"settings.{key}")
        return dict(value)


__all__ = ["DeliveryRejected", "Notification", "NotificationStatus", "Notifier", "SettingsReader"]
