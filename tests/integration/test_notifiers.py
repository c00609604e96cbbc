"""Notifiers against real servers on 127.0.0.1 (a stdlib HTTP server receiving the webhook, aiosmtpd
receiving mail) and the dispatcher that retries them in the background."""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from shipyard.errors import BackendUnavailable, ConfigError, Conflict, InvalidInput
from shipyard.monitoring.dispatch import Delivery, NotificationDispatcher
from shipyard.monitoring.metrics import MonitorMetrics
from shipyard.monitoring.notifiers import NOTIFIERS, DeliveryRejected, Notification, build_notifier
from shipyard.monitoring.notifiers.log import LogNotifier
from shipyard.monitoring.notifiers.smtp import SmtpNotifier
from shipyard.monitoring.notifiers.webhook import WebhookNotifier
from support.waiting import wait_until

ROOT = Path(__file__).parents[2]


def notification(status: str = "firing", severity: str = "critical", link: str | None = None) -> Notification:
    return Notification(
        alert_id="al-42",
        status=status,  # type: ignore[arg-type]
        rule="drift-high",
        figure="drift.share",
        value=0.625,
        threshold=0.3,
        op=">",
        severity=severity,
        monitor="churn-drift",
        deployment="churn-prod",
        at_ms=1_765_000_000_000,
        summary="5 of 8 columns drifted against the training reference",
        link=link,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Deliveries:
    """Collects what the dispatcher reports, for the test to wait on."""

    def __init__(self) -> None:
        self.items: list[Delivery] = []
        self._lock = threading.Lock()

    def __call__(self, delivery: Delivery) -> None:
        with self._lock:
            self.items.append(delivery)

    def wait(self, count: int, timeout: float = 15) -> list[Delivery]:
        wait_until(lambda: len(self.items) >= count, timeout=timeout, interval=0.02)
        return list(self.items)


# ---- a webhook receiver -------------------------------------------------------------------------


@dataclass
class Receiver:
    """What the HTTP server received, and the statuses it answers with (then 200)."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], dict[str, object]]] = field(default_factory=list)


def serve_webhook(receiver: Receiver, port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            receiver.requests.append((self.path, dict(self.headers), body))
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    received = Receiver()
    server = serve_webhook(received)
    yield received, f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/B000/secret"
    server.shutdown()
    server.server_close()


def test_the_webhook_posts_a_slack_compatible_payload(receiver: tuple[Receiver, str]) -> None:
    received, url = receiver
    notifier = WebhookNotifier(url, headers={"X-Team": "ml-ops"})
    notifier.send(notification(link="https://shipyard.example/monitors/churn-drift"))
    notifier.close()
    [(path, headers, body)] = received.requests
    assert path == "/hooks/T000/B000/secret"
    assert headers["X-Team"] == "ml-ops"
    assert headers["Content-Type"] == "application/json"
    assert body["text"] == (
        "[FIRING] critical: drift-high on churn-drift: 5 of 8 columns drifted against the training reference"
    )
    blocks = body["blocks"]
    assert isinstance(blocks, list)
    assert [b["type"] for b in blocks] == ["header", "section", "context", "actions"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "[FIRING] critical: drift-high on churn-drift"}
    fields = " ".join(f["text"] for f in blocks[1]["fields"])
    assert "`drift.share` = 0.625" in fields and "`drift.share > 0.3`" in fields
    assert "churn-prod" in fields
    assert blocks[3]["elements"][0]["url"] == "https://shipyard.example/monitors/churn-drift"
    assert body["shipyard"] == {**notification(link=blocks[3]["elements"][0]["url"]).to_dict()}


def test_a_resolve_without_a_link_has_no_button(receiver: tuple[Receiver, str]) -> None:
    received, url = receiver
    notifier = WebhookNotifier(url)
    notifier.send(notification(status="resolved"))
    notifier.close()
    body = received.requests[0][2]
    assert str(body["text"]).startswith("[RESOLVED]")
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "context"]  # type: ignore[union-attr]


def test_a_webhook_answering_an_error_is_a_failed_delivery(receiver: tuple[Receiver, str]) -> None:
    received, url = receiver
    received.statuses = [503, 404]
    notifier = WebhookNotifier(url)
    with pytest.raises(BackendUnavailable, match="503") as caught:
        notifier.send(notification())
    assert not isinstance(caught.value, DeliveryRejected)
    with pytest.raises(DeliveryRejected, match="404") as rejected:
        notifier.send(notification())
    notifier.close()
    assert "secret" not in str(rejected.value)  # the webhook URL's path is its credential


def test_a_failing_webhook_is_retried_with_backoff_until_delivered(receiver: tuple[Receiver, str]) -> None:
    received, url = receiver
    received.statuses = [503, 502, 500]
    deliveries = Deliveries()
    metrics = MonitorMetrics()
    notifier = WebhookNotifier(url, name="ops-slack")
    with NotificationDispatcher(
        attempts=5, base_delay_s=0.1, on_delivery=deliveries, metrics=metrics
    ) as dispatcher:
        dispatcher.submit(notification(), [notifier])
        [delivery] = deliveries.wait(1)
    notifier.close()
    assert (delivery.outcome, delivery.attempts, delivery.notifier_name) == ("sent", 4, "ops-slack")
    assert len(received.requests) == 4
    value = metrics.registry.get_sample_value
    assert value("shipyard_notifications_total", {"notifier": "ops-slack", "outcome": "retried"}) == 3
    assert value("shipyard_notifications_total", {"notifier": "ops-slack", "outcome": "sent"}) == 1


def test_a_rejected_webhook_is_not_retried(receiver: tuple[Receiver, str]) -> None:
    received, url = receiver
    received.statuses = [400]
    deliveries = Deliveries()
    notifier = WebhookNotifier(url)
    with NotificationDispatcher(attempts=5, base_delay_s=0.05, on_delivery=deliveries) as dispatcher:
        dispatcher.submit(notification(), [notifier])
        [delivery] = deliveries.wait(1)
    notifier.close()
    assert (delivery.outcome, delivery.attempts) == ("failed", 1)
    assert delivery.error is not None and "400" in delivery.error
    assert len(received.requests) == 1


class TimedWebhook(WebhookNotifier):
    """A real webhook notifier that also notes when each attempt started."""

    def __init__(self, url: str) -> None:
        super().__init__(url, timeout_s=1)
        self.attempted_at: list[float] = []
        self.failures = 0

    def send(self, notification: Notification) -> None:
        self.attempted_at.append(time.monotonic())
        try:
            super().send(notification)
        except BackendUnavailable:
            self.failures += 1
            raise


def test_with_the_webhook_server_down_the_monitor_is_not_delayed_and_delivery_resumes() -> None:
    port = free_port()  # nothing listens there yet
    notifier = TimedWebhook(f"http://127.0.0.1:{port}/alerts")
    deliveries = Deliveries()
    dispatcher = NotificationDispatcher(attempts=8, base_delay_s=0.2, max_delay_s=1.0, on_delivery=deliveries)
    began = time.monotonic()
    dispatcher.submit(notification(), [notifier])
    assert time.monotonic() - began < 0.5  # queued, not sent: the monitor goes on at once

    wait_until(lambda: notifier.failures >= 3, timeout=10, interval=0.02)
    assert deliveries.items == []  # still retrying, not given up
    received = Receiver()
    server = serve_webhook(received, port)
    try:
        [delivery] = deliveries.wait(1)
    finally:
        dispatcher.close()
        notifier.close()
        server.shutdown()
        server.server_close()
    assert delivery.outcome == "sent"
    assert delivery.attempts == len(notifier.attempted_at) >= 4
    assert len(received.requests) == 1
    # Backoff: attempt k waits between half and all of 0.2 * 2**(k-1) seconds, at most 1 s.
    gaps = [b - a for a, b in zip(notifier.attempted_at, notifier.attempted_at[1:], strict=False)]
    for k, gap in enumerate(gaps, start=1):
        assert gap >= 0.5 * min(1.0, 0.2 * 2 ** (k - 1)) - 0.01
    assert gaps[2] > gaps[0]


def test_a_hanging_notifier_does_not_hold_up_the_others(caplog: pytest.LogCaptureFixture) -> None:
    # A server that accepts connections and never answers: the webhook waits its whole timeout.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        hanging = WebhookNotifier(f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout_s=2)
        deliveries = Deliveries()
        dispatcher = NotificationDispatcher(attempts=1, on_delivery=deliveries)
        caplog.set_level(logging.INFO, logger="test.alerts")
        began = time.monotonic()
        dispatcher.submit(notification(), [hanging, LogNotifier("test.alerts")])
        submitted = time.monotonic() - began
        [first] = deliveries.wait(1)
        dispatcher.close(timeout_s=10)
        hanging.close()
    assert submitted < 0.5
    assert (first.notifier_name, first.outcome) == ("log", "sent")
    assert len([r for r in caplog.records if r.name == "test.alerts"]) == 1
    # Submitted second, the log is delivered while the webhook still waits for its answer.
    assert [(d.notifier_name, d.outcome) for d in deliveries.items] == [
        ("log", "sent"),
        ("webhook", "failed"),
    ]


# ---- email over SMTP ----------------------------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler keeping what it accepted; it can refuse DATA or some recipients."""

    def __init__(self, *, refuse_data: bool = False, refuse: tuple[str, ...] = ()) -> None:
        self.messages: list[Envelope] = []
        self.data_attempts = 0
        self.refuse_data = refuse_data
        self.refuse = refuse

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.data_attempts += 1
        if self.refuse_data:
            return "554 5.7.1 message refused"
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


def _authenticate(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: object
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"alerts",
        b"s3cret",
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, authenticator=_authenticate, auth_require_tls=False
    )
    controller.start()
    yield mailbox, port
    controller.stop()


def smtp(port: int, **options: object) -> SmtpNotifier:
    return SmtpNotifier(
        "127.0.0.1",
        port,
        "shipyard@example.com",
        ["oncall@example.com", "ml@example.com"],
        **options,  # type: ignore[arg-type]
    )


def test_an_email_arrives_with_subject_recipients_and_body(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    smtp(port, username="alerts", password="s3cret").send(notification(link="https://shipyard.example/m/1"))
    [envelope] = mailbox.messages
    assert envelope.mail_from == "shipyard@example.com"
    assert envelope.rcpt_tos == ["oncall@example.com", "ml@example.com"]
    assert isinstance(envelope.content, bytes)
    message = message_from_bytes(envelope.content)
    assert message["Subject"] == "[FIRING] critical: drift-high on churn-drift"
    assert message["To"] == "oncall@example.com, ml@example.com"
    assert message["X-Shipyard-Alert"] == "al-42"
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "5 of 8 columns drifted against the training reference" in body
    assert "drift-high (drift.share > 0.3)" in body
    assert "value:      0.625" in body
    assert "https://shipyard.example/m/1" in body


def test_a_firing_and_its_resolve_thread_together(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    notifier = smtp(port)
    notifier.send(notification())
    notifier.send(notification(status="resolved"))
    fired, resolved = (message_from_bytes(m.content) for m in mailbox.messages)  # type: ignore[arg-type]
    assert resolved["Subject"].startswith("[RESOLVED]")
    assert fired["References"] == resolved["References"]
    assert fired["Message-ID"] != resolved["Message-ID"]


def test_wrong_smtp_credentials_fail_the_delivery(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    with pytest.raises(BackendUnavailable, match=f"SMTP 127.0.0.1:{port}"):
        smtp(port, username="alerts", password="wrong").send(notification())
    assert mailbox.messages == []


def test_an_smtp_server_refusing_is_retried_then_reported_failed(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    mailbox.refuse_data = True
    deliveries = Deliveries()
    metrics = MonitorMetrics()
    with NotificationDispatcher(
        attempts=3, base_delay_s=0.05, on_delivery=deliveries, metrics=metrics
    ) as dispatcher:
        dispatcher.submit(notification(), [smtp(port, name="oncall-mail")])
        [delivery] = deliveries.wait(1)
    assert (delivery.outcome, delivery.attempts, delivery.notifier_name) == ("failed", 3, "oncall-mail")
    assert delivery.error is not None and "554" in delivery.error
    assert mailbox.data_attempts == 3
    value = metrics.registry.get_sample_value
    assert value("shipyard_notifications_total", {"notifier": "oncall-mail", "outcome": "failed"}) == 1


def test_a_partly_refused_email_is_not_sent_again(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    mailbox.refuse = ("ml@example.com",)
    deliveries = Deliveries()
    with NotificationDispatcher(attempts=3, base_delay_s=0.05, on_delivery=deliveries) as dispatcher:
        dispatcher.submit(notification(), [smtp(port)])
        [delivery] = deliveries.wait(1)
    assert (delivery.outcome, delivery.attempts) == ("failed", 1)
    assert delivery.error is not None and "ml@example.com" in delivery.error
    assert [m.rcpt_tos for m in mailbox.messages] == [["oncall@example.com"]]


def test_no_smtp_server_is_a_failed_delivery() -> None:
    with pytest.raises(BackendUnavailable, match="did not take the message"):
        smtp(free_port(), timeout_s=2).send(notification())


# ---- the log ------------------------------------------------------------------------------------


def test_the_log_notifier_logs_at_the_alerts_severity(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="shipyard.alerts")
    notifier = LogNotifier()
    notifier.send(notification(severity="critical"))
    notifier.send(notification(severity="info"))
    notifier.send(notification(status="resolved", severity="critical"))
    records = [r for r in caplog.records if r.name == "shipyard.alerts"]
    assert [r.levelno for r in records] == [logging.CRITICAL, logging.INFO, logging.INFO]
    assert records[0].getMessage() == (
        "[FIRING] critical: drift-high on churn-drift: 5 of 8 columns drifted against the training "
        "reference [drift.share = 0.625 (> 0.3)]"
    )
    assert records[2].getMessage().startswith("[RESOLVED]")
    assert records[0].alert["alert_id"] == "al-42"  # type: ignore[attr-defined]


# ---- building notifiers from settings -----------------------------------------------------------


def test_notifiers_are_built_by_kind_from_settings() -> None:
    webhook = build_notifier("webhook", {"url": "https://hooks.example/x", "timeout_s": 2}, name="ops")
    assert isinstance(webhook, WebhookNotifier)
    assert (webhook.name, webhook.timeout_s) == ("ops", 2.0)
    mail = build_notifier(
        "smtp",
        {"host": "mail.example", "port": 587, "sender": "a@example.com", "recipients": "b@example.com"},
    )
    assert isinstance(mail, SmtpNotifier)
    assert (mail.name, mail.port, mail.recipients) == ("smtp", 587, ["b@example.com"])
    assert isinstance(build_notifier("log", {}), LogNotifier)


def test_an_unknown_notifier_kind_names_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        build_notifier("pagerduty", {})
    assert caught.value.field == "kind"
    assert "'pagerduty'" in str(caught.value)
    assert all(kind in str(caught.value) for kind in ("webhook", "smtp", "log"))


@pytest.mark.parametrize(
    ("kind", "settings", "bad"),
    [
        ("webhook", {}, "settings.url"),
        ("webhook", {"url": "ftp://example.com/x"}, "url"),
        ("webhook", {"url": "https://h.example/x", "timeout_s": 0}, "settings.timeout_s"),
        ("webhook", {"url": "https://h.example/x", "headers": {"X": 1}}, "settings.headers"),
        ("webhook", {"url": "https://h.example/x", "token": "t"}, "settings.token"),
        ("smtp", {"port": 25, "sender": "a@b.c", "recipients": ["d@e.f"]}, "settings.host"),
        ("smtp", {"host": "h", "sender": "a@b.c", "recipients": []}, "settings.recipients"),
        ("smtp", {"host": "h", "sender": "a@b.c", "recipients": ["nobody"]}, "recipients[0]"),
        ("smtp", {"host": "h", "sender": "sender", "recipients": ["d@e.f"]}, "sender"),
        ("smtp", {"host": "h", "port": 70000, "sender": "a@b.c", "recipients": ["d@e.f"]}, "port"),
        ("smtp", {"host": "h", "port": "25", "sender": "a@b.c", "recipients": ["d@e.f"]}, "settings.port"),
        ("smtp", {"host": "h", "sender": "a@b.c", "recipients": ["d@e.f"], "username": "u"}, "username"),
        (
            "smtp",
            {"host": "h", "sender": "a@b.c", "recipients": ["d@e.f"], "starttls": "yes"},
            "settings.starttls",
        ),
        ("log", {"logger": ""}, "settings.logger"),
    ],
)
def test_bad_notifier_settings_are_named(kind: str, settings: dict[str, object], bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        build_notifier(kind, settings)
    assert caught.value.field == bad


PAGER_CODE = """
from shipyard.monitoring.notifiers.base import Notifier

class PagerNotifier(Notifier):
    kind = "pager"
    sent = []

    def __init__(self, service, *, name=None):
        super().__init__(name=name)
        self.service = service

    @classmethod
    def from_settings(cls, settings, *, name=None):
        return cls(settings["service"], name=name)

    def send(self, notification):
        self.sent.append((self.service, notification.alert_id))

NOT_A_NOTIFIER = object()
"""


@pytest.fixture
def pager_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An installed distribution registering two notifier kinds, one of them broken."""
    (tmp_path / "acme_pager.py").write_text(PAGER_CODE)
    info = tmp_path / "acme_pager-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme_pager\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[shipyard.notifiers]\npager = acme_pager:PagerNotifier\nbroken = acme_pager:NOT_A_NOTIFIER\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    NOTIFIERS.refresh()
    yield
    NOTIFIERS.refresh()
    sys.modules.pop("acme_pager", None)


@pytest.mark.usefixtures("pager_package")
def test_another_package_adds_a_notifier_kind_through_an_entry_point() -> None:
    assert NOTIFIERS.names() == ["broken", "log", "pager", "smtp", "webhook"]
    pager = build_notifier("pager", {"service": "ml-oncall"}, name="pages")
    deliveries = Deliveries()
    with NotificationDispatcher(on_delivery=deliveries) as dispatcher:
        dispatcher.submit(notification(), [pager])
        [delivery] = deliveries.wait(1)
    assert (delivery.notifier_name, delivery.outcome) == ("pages", "sent")
    assert pager.sent == [("ml-oncall", "al-42")]  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="not a Notifier"):
        build_notifier("broken", {})


def test_the_packages_entry_points_list_exactly_the_built_in_notifiers() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"][NOTIFIERS.group] == NOTIFIERS.builtins


# ---- the dispatcher itself ----------------------------------------------------------------------


class Flaky(LogNotifier):
    """A log notifier that fails its first ``failures`` sends."""

    def __init__(self, failures: int, name: str) -> None:
        super().__init__("test.flaky", name=name)
        self.failures = failures
        self.calls = 0

    def send(self, notification: Notification) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"failure {self.calls}")
        super().send(notification)


def test_each_notifier_of_a_notification_is_delivered_on_its_own() -> None:
    deliveries = Deliveries()
    good, bad = Flaky(0, "good"), Flaky(99, "bad")
    with NotificationDispatcher(attempts=2, base_delay_s=0.01, on_delivery=deliveries) as dispatcher:
        dispatcher.submit(notification(), [good, bad])
        items = deliveries.wait(2)
    outcomes = {d.notifier_name: (d.outcome, d.attempts) for d in items}
    assert outcomes == {"good": ("sent", 1), "bad": ("failed", 2)}
    assert next(d.error for d in items if d.notifier_name == "bad") == "ConnectionError: failure 2"


def test_closing_reports_notifications_still_waiting_for_a_retry_as_failed() -> None:
    deliveries = Deliveries()
    dispatcher = NotificationDispatcher(attempts=5, base_delay_s=30, on_delivery=deliveries)
    notifier = Flaky(99, "down")
    dispatcher.submit(notification(), [notifier])
    wait_until(lambda: notifier.calls == 1, timeout=5, interval=0.01)
    began = time.monotonic()
    dispatcher.close(timeout_s=0.3)
    assert time.monotonic() - began < 2
    [delivery] = deliveries.items
    assert (delivery.outcome, delivery.attempts) == ("failed", 1)
    assert delivery.error is not None and "closed" in delivery.error
    with pytest.raises(Conflict, match="closed"):
        dispatcher.submit(notification(), [notifier])


class Stuck(LogNotifier):
    """Fails, but only once the test lets its send return."""

    def __init__(self) -> None:
        super().__init__("test.stuck", name="stuck")
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def send(self, notification: Notification) -> None:
        self.calls += 1
        self.entered.set()
        self.release.wait(10)
        raise ConnectionError("still down")


def test_a_send_that_outlives_close_is_not_retried() -> None:
    deliveries = Deliveries()
    notifier = Stuck()
    dispatcher = NotificationDispatcher(attempts=5, base_delay_s=0.01, on_delivery=deliveries)
    dispatcher.submit(notification(), [notifier])
    assert notifier.entered.wait(5)
    dispatcher.close(timeout_s=0.2)
    assert deliveries.items == []  # still being sent
    notifier.release.set()
    [delivery] = deliveries.wait(1)
    assert (delivery.outcome, delivery.attempts) == ("failed", 1)
    time.sleep(0.1)  # a retry, if one were scheduled, would have run by now
    assert notifier.calls == 1


def test_close_waits_for_pending_retries_within_its_timeout() -> None:
    deliveries = Deliveries()
    dispatcher = NotificationDispatcher(attempts=5, base_delay_s=0.1, on_delivery=deliveries)
    dispatcher.submit(notification(), [Flaky(2, "flaky")])
    dispatcher.close(timeout_s=10)
    assert [(d.outcome, d.attempts) for d in deliveries.items] == [("sent", 3)]
    assert dispatcher.pending() == 0


def test_a_failing_delivery_callback_does_not_stop_the_dispatcher() -> None:
    seen: list[str] = []

    def callback(delivery: Delivery) -> None:
        seen.append(delivery.notifier_name)
        raise RuntimeError("callback bug")

    with NotificationDispatcher(on_delivery=callback) as dispatcher:
        dispatcher.submit(notification(), [Flaky(0, "one")])
        wait_until(lambda: len(seen) == 1, timeout=5, interval=0.01)
        dispatcher.submit(notification(), [Flaky(0, "two")])
        wait_until(lambda: len(seen) == 2, timeout=5, interval=0.01)
    assert seen == ["one", "two"]


def test_a_full_queue_reports_the_overflow_at_once() -> None:
    deliveries = Deliveries()
    dispatcher = NotificationDispatcher(attempts=2, base_delay_s=30, max_pending=1, on_delivery=deliveries)
    dispatcher.submit(notification(), [Flaky(99, "a"), Flaky(0, "b")])
    assert [(d.notifier_name, d.outcome) for d in deliveries.items] == [("b", "failed")]
    assert "pending" in (deliveries.items[0].error or "")
    dispatcher.close(timeout_s=0.2)


@pytest.mark.parametrize(
    ("options", "bad"),
    [({"attempts": 0}, "attempts"), ({"base_delay_s": -1}, "base_delay_s"), ({"workers": 0}, "workers")],
)
def test_bad_dispatcher_options_are_named(options: dict[str, object], bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        NotificationDispatcher(**options)  # type: ignore[arg-type]
    assert caught.value.field == bad
