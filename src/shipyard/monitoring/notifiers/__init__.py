"""Notifiers: the channels alerts go to, chosen by kind through the ``shipyard.notifiers`` plugin
group (built-ins ``webhook``, ``smtp``, ``log``; a package adds a kind with an entry point).

Importing this package loads no channel: :func:`build_notifier` imports the one it is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping

from shipyard.core.plugins import PluginGroup
from shipyard.errors import ConfigError, InvalidInput
from shipyard.monitoring.notifiers.base import DeliveryRejected, Notification, NotificationStatus, Notifier

NOTIFIERS = PluginGroup(
    "notifiers",
    builtins={
        "webhook": "shipyard.monitoring.notifiers.webhook:WebhookNotifier",
        "smtp": "shipyard.monitoring.notifiers.smtp:SmtpNotifier",
        "log": "shipyard.monitoring.notifiers.log:LogNotifier",
    },
    noun="notifier kind",
    error=InvalidInput,
    field="kind",
)


def build_notifier(kind: str, settings: Mapping[str, object], *, name: str | None = None) -> Notifier:
    """A notifier of ``kind`` from ``settings`` (validated by the kind; :class:`InvalidInput`
    naming the field). An unknown kind raises :class:`InvalidInput` naming the known kinds."""
    if not isinstance(kind, str) or not kind:
        raise InvalidInput(f"kind must be a notifier kind, got {kind!r}", field="kind")
    cls = NOTIFIERS.load(kind)
    if not (isinstance(cls, type) and issubclass(cls, Notifier)):
        raise ConfigError(f"notifier kind {kind!r} is registered as {cls!r}, which is not a Notifier")
    return cls.from_settings(settings, name=name)


__all__ = [
    "NOTIFIERS",
    "DeliveryRejected",
    "Notification",
    "NotificationStatus",
    "Notifier",
    "build_notifier",
]
