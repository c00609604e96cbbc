"""Alerts as an HTTP POST with a Slack-compatible JSON body.

Slack incoming webhooks (and the Mattermost, Rocket.Chat and Discord ``/slack`` endpoints) read
``text`` and ``blocks``; the ``shipyard`` key carries the notification's fields for receivers that
act on alerts rather than display them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import ClassVar, Self
from urllib.parse import urlsplit

import httpx

from shipyard.errors import BackendUnavailable, InvalidInput
from shipyard.monitoring.notifiers.base import DeliveryRejected, Notification, Notifier, SettingsReader

#: Client errors that say "later", not "never".
_TRANSIENT = frozenset({408, 425, 429})
_EMOJI = {"firing": {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}}


def slack_payload(notification: Notification) -> dict[str, object]:
    """The JSON body: a plain ``text`` fallback and Block Kit ``blocks``."""
    n = notification
    emoji = _EMOJI.get(n.status, {}).get(n.severity, ":white_check_mark:")
    fields = [
        {"type": "mrkdwn", "text": f"*Figure*\n`{n.figure}` = {n.value:.4g}"},
        {"type": "mrkdwn", "text": f"*Rule*\n`{n.figure} {n.op} {n.threshold:.4g}`"},
        {"type": "mrkdwn", "text": f"*Monitor*\n{n.monitor}"},
        {"type": "mrkdwn", "text": f"*Deployment*\n{n.deployment}"},
    ]
    blocks: list[dict[str, object]] = [
        {"type": "header", "text": {"type": "plain_text", "text": n.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{emoji} {n.summary}"}, "fields": fields},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"alert {n.alert_id} · {n.severity} · {n.at_iso}"}],
        },
    ]
    if n.link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Open monitor"}, "url": n.link}
                ],
            }
        )
    return {"text": f"{n.title}: {n.summary}", "blocks": blocks, "shipyard": n.to_dict()}


class WebhookNotifier(Notifier):
    """POSTs :func:`slack_payload` to ``url``. A 2xx answer is a delivery; a 4xx (but 408, 425,
    429) is a rejection not worth retrying; anything else, or no answer, is worth retrying."""

    kind: ClassVar[str] = "webhook"

    def __init__(
        self,
        url: str,
        timeout_s: float = 5,
        headers: Mapping[str, str] | None = None,
        *,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"url must be an http(s) URL, got {url!r}", field="url")
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not timeout_s > 0:
            raise InvalidInput(f"timeout_s must be a positive number, got {timeout_s!r}", field="timeout_s")
        self.url = url
        self.timeout_s = float(timeout_s)
        self.headers = dict(headers or {})
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Mapping[str, object], *, name: str | None = None) -> Self:
        read = SettingsReader(cls.kind, settings, ("url", "timeout_s", "headers"))
        url = read.text("url", required=True)
        assert url is not None
        return cls(url, read.number("timeout_s", 5), read.string_map("headers"), name=name)

    def send(self, notification: Notification) -> None:
        try:
            response = self._http().post(self.url, json=slack_payload(notification))
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"webhook {self._where()} unreachable: {exc}") from exc
        if response.is_client_error and response.status_code not in _TRANSIENT:
            raise DeliveryRejected(
                f"webhook {self._where()} rejected the notification with {response.status_code}: "
                f"{response.text[:200]}"
            )
        if not response.is_success:
            raise BackendUnavailable(
                f"webhook {self._where()} answered {response.status_code}: {response.text[:200]}"
            )

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _http(self) -> httpx.Client:
        # One client per notifier: building one loads the CA bundle, which costs a good part of a
        # second, and its pool keeps the connection to the receiver open between alerts.
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout_s, headers=self.headers)
            return self._client

    def _where(self) -> str:
        # The path of a Slack webhook URL is its secret: name the host only.
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    def __repr__(self) -> str:
        return f"WebhookNotifier(name={self.name!r}, url={self._where()!r})"


__all__ = ["WebhookNotifier", "slack_payload"]
