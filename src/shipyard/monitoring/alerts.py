"""Alert use cases: notification channels, rules on a monitor's figures, the alerts they raise.

Rules move in the evaluation's transaction (:meth:`AlertService.apply`): a rule that fires inserts
an alert, appends an audit record and, for a drift or performance figure, publishes
``drift.detected`` / ``performance.degraded`` into the event log, where pipelines' event triggers
pick it up. Notifications are sent after the commit, in the background (:mod:`.dispatch`), so a
slow or failing notifier never delays a monitor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, delete, select, update

from shipyard.audit import log as audit
from shipyard.core.clock import now_ms
from shipyard.core.events import Event
from shipyard.core.ids import new_id
from shipyard.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from shipyard.events import log as event_log
from shipyard.monitoring import checks
from shipyard.monitoring.alerting import AlertRule, AlertState, acknowledge, step
from shipyard.monitoring.dispatch import NotificationDispatcher
from shipyard.monitoring.events import DriftDetected, PerformanceDegraded
from shipyard.monitoring.model import Alert, AlertStatus, Channel, Rule, check_name
from shipyard.monitoring.notifiers import Notification, Notifier, build_notifier
from shipyard.monitoring.records import (
    alerts_t,
    channels_t,
    monitors_t,
    rules_t,
    to_alert,
    to_channel,
    to_rule,
)
from shipyard.storage.metadata.database import Database

MAX_RULES_PER_MONITOR = 100


@dataclass(frozen=True)
class Fired:
    """An alert that changed in an evaluation: notified after the commit."""

    notification: Notification
    channels: tuple[str, ...]


def event_for(figure: str) -> type[DriftDetected] | type[PerformanceDegraded] | None:
    if figure.startswith("drift."):
        return DriftDetected
    if figure.startswith(("performance.", "estimated.")) and figure != "performance.labelled_rows":
        return PerformanceDegraded
    return None


class AlertService:
    def __init__(
        self,
        db: Database,
        *,
        dispatcher: NotificationDispatcher | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.db = db
        self.dispatcher = dispatcher
        self.clock = clock

    # -- channels ----------------------------------------------------------------------------------

    def create_channel(self, name: str, kind: str, settings: Mapping[str, Any], *, actor: str) -> Channel:
        check_name(name, "channel")
        build_notifier(kind, settings)  # validates kind and settings before anything is stored
        now = self.clock()
        with self.db.write() as conn:
            if conn.execute(select(channels_t.c.name).where(channels_t.c.name == name)).first():
                raise AlreadyExists(f"notification channel {name!r} exists")
            row = {
                "name": name,
                "kind": kind,
                "settings": dict(settings),
                "created_by": actor,
                "created_at": now,
            }
            conn.execute(channels_t.insert().values(**row))
            audit.append(
                conn, actor=actor, action="channel.create", object_type="channel", object_id=name,
                after={"kind": kind, "settings": _redacted(settings)},
            )  # fmt: skip
        return Channel(name, kind, dict(settings), actor, now)

    def list_channels(self) -> list[Channel]:
        with self.db.read() as conn:
            return [to_channel(r) for r in conn.execute(select(channels_t).order_by(channels_t.c.name))]

    def delete_channel(self, name: str, *, actor: str) -> None:
        with self.db.write() as conn:
            if conn.execute(delete(channels_t).where(channels_t.c.name == name)).rowcount == 0:
                raise NotFound(f"no notification channel {name!r}")
            audit.append(conn, actor=actor, action="channel.delete", object_type="channel", object_id=name)

    def notifier(self, name: str) -> Notifier:
        with self.db.read() as conn:
            row = conn.execute(select(channels_t).where(channels_t.c.name == name)).first()
        if row is None:
            raise NotFound(f"no notification channel {name!r}")
        return build_notifier(row.kind, row.settings)

    # -- rules -------------------------------------------------------------------------------------

    def create_rule(
        self,
        monitor: str,
        name: str,
        figure: str,
        op: str,
        threshold: float,
        *,
        severity: str = "warning",
        cooldown_s: int = 3600,
        for_evaluations: int = 1,
        channels: Sequence[str] = (),
        actor: str,
    ) -> Rule:
        check_name(name, "rule")
        AlertRule(
            name=name, figure=figure, op=op, threshold=threshold, severity=severity,  # type: ignore[arg-type]
            cooldown_s=cooldown_s, notifiers=tuple(channels), for_evaluations=for_evaluations,
        )  # fmt: skip
        now = self.clock()
        with self.db.write() as conn:
            mon = conn.execute(select(monitors_t).where(monitors_t.c.name == monitor)).first()
            if mon is None:
                raise NotFound(f"no monitor {monitor!r}")
            if not checks.known_figure(figure, tuple(mon.columns)):
                raise InvalidInput(
                    f"monitor {monitor!r} has no figure {figure!r}: use drift.share, drift.column.<feature>, "
                    "performance.<metric>, estimated.<metric>, quality.<check>[.<feature>], ops.latency_p99_ms, "
                    "ops.error_rate, stability.nan_share, age.days … (see docs/monitoring.md)",
                    field="figure",
                )
            known = {r.name for r in conn.execute(select(channels_t.c.name))}
            missing = [c for c in channels if c not in known]
            if missing:
                raise NotFound(f"no notification channel(s) {', '.join(map(repr, missing))}")
            if conn.execute(
                select(rules_t.c.id).where(rules_t.c.monitor_id == mon.id, rules_t.c.name == name)
            ).first():
                raise AlreadyExists(f"monitor {monitor!r} has a rule {name!r}")
            count = len(conn.execute(select(rules_t.c.id).where(rules_t.c.monitor_id == mon.id)).all())
            if count >= MAX_RULES_PER_MONITOR:
                raise InvalidInput(f"a monitor has at most {MAX_RULES_PER_MONITOR} rules", field="name")
            row = {
                "id": new_id(), "monitor_id": mon.id, "name": name, "figure": figure, "op": op,
                "threshold": float(threshold), "severity": severity, "cooldown_s": cooldown_s,
                "for_evaluations": for_evaluations, "channels": list(channels),
                "state": AlertState().to_dict(), "created_by": actor, "created_at": now,
            }  # fmt: skip
            conn.execute(rules_t.insert().values(**row))
            audit.append(
                conn, actor=actor, action="alert_rule.create", object_type="monitor", object_id=monitor,
                after={k: row[k] for k in ("name", "figure", "op", "threshold", "severity", "cooldown_s", "channels")},
            )  # fmt: skip
        return to_rule(SimpleNamespace(**row), monitor)

    def list_rules(self, monitor: str) -> list[Rule]:
        with self.db.read() as conn:
            mon = _monitor(conn, monitor)
            rows = conn.execute(
                select(rules_t).where(rules_t.c.monitor_id == mon.id).order_by(rules_t.c.name)
            )
            return [to_rule(r, monitor) for r in rows]

    def delete_rule(self, monitor: str, name: str, *, actor: str) -> None:
        with self.db.write() as conn:
            mon = _monitor(conn, monitor)
            gone = conn.execute(delete(rules_t).where(rules_t.c.monitor_id == mon.id, rules_t.c.name == name))
            if gone.rowcount == 0:
                raise NotFound(f"monitor {monitor!r} has no rule {name!r}")
            audit.append(
                conn, actor=actor, action="alert_rule.delete", object_type="monitor", object_id=monitor,
                before={"name": name},
            )  # fmt: skip

    # -- alerts ------------------------------------------------------------------------------------

    def list_alerts(
        self, *, monitor: str | None = None, status: AlertStatus | None = None, limit: int = 100
    ) -> list[Alert]:
        with self.db.read() as conn:
            stmt = select(alerts_t, monitors_t.c.name.label("monitor_name")).join(
                monitors_t, monitors_t.c.id == alerts_t.c.monitor_id
            )
            if monitor is not None:
                stmt = stmt.where(monitors_t.c.name == monitor)
            if status is not None:
                stmt = stmt.where(alerts_t.c.status == status)
            rows = conn.execute(stmt.order_by(alerts_t.c.fired_at.desc(), alerts_t.c.id).limit(limit)).all()
            return [to_alert(r, r.monitor_name) for r in rows]

    def get_alert(self, alert_id: str) -> Alert:
        with self.db.read() as conn:
            return _alert(conn, alert_id)

    def acknowledge(self, alert_id: str, *, actor: str) -> Alert:
        now = self.clock()
        with self.db.write() as conn:
            alert = _alert(conn, alert_id)
            if alert.status != "firing":
                raise Conflict(f"alert {alert_id} is {alert.status}: only a firing alert is acknowledged")
            conn.execute(
                update(alerts_t)
                .where(alerts_t.c.id == alert_id)
                .values(acknowledged_by=actor, acknowledged_at=now)
            )
            rule = conn.execute(select(rules_t).where(rules_t.c.id == _rule_id(conn, alert_id))).first()
            if rule is not None:  # the rule may be gone; the alert stays acknowledged
                state = acknowledge(AlertState.from_dict(rule.state), actor)
                conn.execute(update(rules_t).where(rules_t.c.id == rule.id).values(state=state.to_dict()))
            audit.append(
                conn, actor=actor, action="alert.acknowledge", object_type="alert", object_id=alert_id,
                after={"monitor": alert.monitor, "rule": alert.rule},
            )  # fmt: skip
            return _alert(conn, alert_id)

    # -- in an evaluation's transaction ---------------------------------------------------------------

    def apply(
        self,
        conn: Connection,
        *,
        monitor_id: str,
        monitor: str,
        deployment: str | None,
        model: str,
        version: int,
        evaluation_id: str,
        figures: Mapping[str, float],
        now: int,
    ) -> list[Fired]:
        """Move every rule of the monitor on this evaluation's figures; record what fired or
        resolved (alert rows, audit, events). Returns what to notify after the commit."""
        out: list[Fired] = []
        for row in conn.execute(select(rules_t).where(rules_t.c.monitor_id == monitor_id)).all():
            rule = AlertRule(
                name=row.name, figure=row.figure, op=row.op, threshold=row.threshold, severity=row.severity,
                cooldown_s=row.cooldown_s, notifiers=tuple(row.channels), for_evaluations=row.for_evaluations,
            )  # fmt: skip
            transition = step(rule, AlertState.from_dict(row.state), figures.get(row.figure), now)
            conn.execute(
                update(rules_t).where(rules_t.c.id == row.id).values(state=transition.state.to_dict())
            )
            if transition.event is None:
                continue
            value = float(figures.get(row.figure, float("nan")))
            if transition.event == "fired":
                alert_id = new_id()
                kind = event_for(row.figure)
                conn.execute(
                    alerts_t.insert().values(
                        id=alert_id, rule_id=row.id, monitor_id=monitor_id, rule_name=row.name, figure=row.figure,
                        op=row.op, threshold=row.threshold, severity=row.severity, status="firing", value=value,
                        evaluation_id=evaluation_id, event_type=None if kind is None else kind.TYPE, fired_at=now,
                        resolved_at=None, acknowledged_by=None, acknowledged_at=None,
                    )
                )  # fmt: skip
                audit.append(
                    conn, actor="monitor", action="alert.fire", object_type="alert", object_id=alert_id,
                    after={"monitor": monitor, "rule": row.name, "figure": row.figure, "value": value,
                           "op": row.op, "threshold": row.threshold, "model": model, "version": version},
                )  # fmt: skip
                if kind is not None:
                    event_log.publish(
                        conn,
                        _event(kind, monitor, deployment, model, version, alert_id, row, value),
                        actor="monitor",
                    )
            else:
                firing = (
                    conn.execute(
                        select(alerts_t.c.id).where(
                            alerts_t.c.rule_id == row.id, alerts_t.c.status == "firing"
                        )
                    )
                    .scalars()
                    .all()
                )
                if not firing:
                    continue
                alert_id = firing[-1]
                conn.execute(
                    update(alerts_t)
                    .where(alerts_t.c.id.in_(firing))
                    .values(status="resolved", resolved_at=now)
                )
                audit.append(
                    conn, actor="monitor", action="alert.resolve", object_type="alert", object_id=alert_id,
                    after={"monitor": monitor, "rule": row.name, "figure": row.figure, "value": value},
                )  # fmt: skip
            out.append(
                Fired(
                    Notification(
                        alert_id=alert_id, status="firing" if transition.event == "fired" else "resolved",
                        rule=row.name, figure=row.figure, value=value, threshold=row.threshold, op=row.op,
                        severity=row.severity, monitor=monitor, deployment=deployment or f"{model}/{version}",
                        at_ms=now, summary=_summary(monitor, row, value, transition.event), link=None,
                    ),
                    tuple(row.channels),
                )
            )  # fmt: skip
        return out

    def notify(self, fired: Sequence[Fired]) -> None:
        """Hand what fired or resolved to the dispatcher (after the commit; never blocks)."""
        if self.dispatcher is None:
            return
        for item in fired:
            notifiers = []
            for channel in item.channels:
                try:
                    notifiers.append(self.notifier(channel))
                except NotFound:  # deleted since the rule was made: the others still get it
                    continue
            if notifiers:
                self.dispatcher.submit(item.notification, notifiers)


def _event(
    kind: type[DriftDetected] | type[PerformanceDegraded],
    monitor: str,
    deployment: str | None,
    model: str,
    version: int,
    alert_id: str,
    row: Any,
    value: float,
) -> Event:
    common: dict[str, Any] = dict(
        monitor=monitor, deployment=deployment or "", model=model, version=version, alert_id=alert_id,
        figure=row.figure, value=value, threshold=row.threshold,
    )  # fmt: skip
    if kind is PerformanceDegraded:
        return PerformanceDegraded(**common, estimated=row.figure.startswith("estimated."))
    return DriftDetected(**common)


def _summary(monitor: str, row: Any, value: float, event: str) -> str:
    verb = "fired" if event == "fired" else "resolved"
    return f"[{row.severity}] {monitor}: {row.name} {verb} ({row.figure} = {value:.4g}, rule {row.op} {row.threshold:g})"


def _redacted(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: ("***" if "password" in k or "token" in k or "secret" in k else v) for k, v in settings.items()
    }


def _monitor(conn: Connection, name: str) -> Any:
    row = conn.execute(select(monitors_t.c.id, monitors_t.c.columns).where(monitors_t.c.name == name)).first()
    if row is None:
        raise NotFound(f"no monitor {name!r}")
    return row


def _rule_id(conn: Connection, alert_id: str) -> str:
    return str(conn.execute(select(alerts_t.c.rule_id).where(alerts_t.c.id == alert_id)).scalar_one())


def _alert(conn: Connection, alert_id: str) -> Alert:
    row = conn.execute(
        select(alerts_t, monitors_t.c.name.label("monitor_name"))
        .join(monitors_t, monitors_t.c.id == alerts_t.c.monitor_id)
        .where(alerts_t.c.id == alert_id)
    ).first()
    if row is None:
        raise NotFound(f"no alert {alert_id!r}")
    return to_alert(row, row.monitor_name)
