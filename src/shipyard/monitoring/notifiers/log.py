"""Alerts written to a Python logger: the channel that always works, and the one tests and
log-shipping setups (Loki, CloudWatch) read."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import ClassVar, Self

from shipyard.monitoring.notifiers.base import Notification, Notifier, SettingsReader

_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}


class LogNotifier(Notifier):
    """Logs a firing alert at its severity's level and a resolve at INFO; the notification's fields
    ride along as ``extra={"alert": {...}}`` for structured handlers."""

    kind: ClassVar[str] = "log"

    def __init__(self, logger: str = "shipyard.alerts", *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.logger = logging.getLogger(logger)

    @classmethod
    def from_settings(cls, settings: Mapping[str, object], *, name: str | None = None) -> Self:
        read = SettingsReader(cls.kind, settings, ("logger",))
        return cls(read.text("logger", default="shipyard.alerts") or "shipyard.alerts", name=name)

    def send(self, notification: Notification) -> None:
        level = _LEVELS.get(notification.severity, logging.WARNING)
        if notification.status == "resolved":
            level = logging.INFO
        self.logger.log(
            level,
            "%s: %s [%s]",
            notification.title,
            notification.summary,
            notification.condition,
            extra={"alert": notification.to_dict()},
        )


__all__ = ["LogNotifier"]
