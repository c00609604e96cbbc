"""Alerts by email over SMTP (stdlib ``smtplib``), optionally upgraded with STARTTLS and logged in.

One message per notification; the subject is the alert's title, and a firing and its resolve share
a ``References`` header built from the ``alert_id``, so mail clients thread them together.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import ClassVar, Self

from shipyard.errors import BackendUnavailable, InvalidInput
from shipyard.monitoring.notifiers.base import DeliveryRejected, Notification, Notifier, SettingsReader


def _address(value: object, field: str) -> str:
    if not isinstance(value, str) or "@" not in value or any(c.isspace() for c in value.strip()):
        raise InvalidInput(f"{field} must be an email address, got {value!r}", field=field)
    return value.strip()


def render_email(notification: Notification, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """The message: subject = title, a plain-text body listing the alert's fields."""
    n = notification
    message = EmailMessage()
    message["Subject"] = n.title
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(n.at_ms / 1000, usegmt=True)
    message["Message-ID"] = make_msgid(domain="shipyard.alerts")
    message["References"] = f"<{n.alert_id}@shipyard.alerts>"
    message["X-Shipyard-Alert"] = n.alert_id
    lines = [
        n.summary,
        "",
        f"status:     {n.status}",
        f"severity:   {n.severity}",
        f"rule:       {n.rule} ({n.figure} {n.op} {n.threshold:.4g})",
        f"value:      {n.value:.4g}",
        f"monitor:    {n.monitor}",
        f"deployment: {n.deployment}",
        f"at:         {n.at_iso}",
        f"alert:      {n.alert_id}",
    ]
    if n.link:
        lines += ["", n.link]
    message.set_content("\n".join(lines) + "\n")
    return message


class SmtpNotifier(Notifier):
    """Sends each notification to ``recipients`` through the SMTP server at ``host:port``."""

    kind: ClassVar[str] = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout_s: float = 10,
        *,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if not isinstance(host, str) or not host.strip():
            raise InvalidInput(f"host must be a host name, got {host!r}", field="host")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise InvalidInput(f"port must be an integer from 1 to 65535, got {port!r}", field="port")
        if isinstance(recipients, str) or not isinstance(recipients, Sequence) or not recipients:
            raise InvalidInput("recipients must be a non-empty list of email addresses", field="recipients")
        if (username is None) != (password is None):
            raise InvalidInput("username and password go together: give both or neither", field="username")
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not timeout_s > 0:
            raise InvalidInput(f"timeout_s must be a positive number, got {timeout_s!r}", field="timeout_s")
        self.host = host
        self.port = port
        self.sender = _address(sender, "sender")
        self.recipients = [_address(r, f"recipients[{i}]") for i, r in enumerate(recipients)]
        self.username = username
        self._password = password
        self.starttls = bool(starttls)
        self.timeout_s = float(timeout_s)

    @classmethod
    def from_settings(cls, settings: Mapping[str, object], *, name: str | None = None) -> Self:
        read = SettingsReader(
            cls.kind,
            settings,
            ("host", "port", "sender", "recipients", "username", "password", "starttls", "timeout_s"),
        )
        host = read.text("host", required=True)
        sender = read.text("sender", required=True)
        assert host is not None and sender is not None
        return cls(
            host,
            read.integer("port", default=25),
            sender,
            read.texts("recipients"),
            read.text("username"),
            read.text("password"),
            read.flag("starttls"),
            read.number("timeout_s", 10),
            name=name,
        )

    def send(self, notification: Notification) -> None:
        message = render_email(notification, self.sender, self.recipients)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as client:
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                if self.username is not None and self._password is not None:
                    client.login(self.username, self._password)
                refused = client.send_message(message, self.sender, self.recipients)
        except (OSError, smtplib.SMTPException) as exc:
            raise BackendUnavailable(f"SMTP {self.host}:{self.port} did not take the message: {exc}") from exc
        if refused:
            # Some recipients got it; sending again would duplicate theirs, so report and stop.
            shown = ", ".join(sorted(refused))
            raise DeliveryRejected(f"SMTP {self.host}:{self.port} refused recipients {shown}")

    def __repr__(self) -> str:
        return f"SmtpNotifier(name={self.name!r}, host={self.host!r}, port={self.port})"


__all__ = ["SmtpNotifier", "render_email"]
