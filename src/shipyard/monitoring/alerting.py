"""Alert rules and the alert state machine: pure functions of (rule, state, value, time), no I/O.

A rule watches one monitored figure (``drift.share``, ``performance.roc_auc``,
``ops.latency_p99_ms`` …) and holds when ``value <op> threshold``. Each evaluation of a monitor
feeds the figure's value to :func:`step`, which returns the next :class:`AlertState` and at most
one event:

- ``"fired"``: the condition held on ``for_evaluations`` evaluations in a row and the rule never
  fired or its cooldown has passed since it last fired. While firing, further breaches send
  nothing (deduplication).
- ``"resolved"``: the condition no longer holds while firing.
- A missing value (the figure was not computed in this window, or is NaN) changes nothing.

The caller stores the state (it round-trips through JSON) and sends a notification per event.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Literal, cast, get_args

from shipyard.errors import Conflict, InvalidInput

Op = Literal[">", ">=", "<", "<="]
Severity = Literal["info", "warning", "critical"]
Status = Literal["ok", "firing"]
Event = Literal["fired", "resolved"]

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
SEVERITIES: tuple[str, ...] = get_args(Severity)

#: Figures are dotted names; the last parts may carry a column name (``drift.column.age``).
_FIGURE = re.compile(r"[a-z][a-z0-9_]*(\.[^\s*?\[\]]+)+")
_CONDITION = re.compile(r"\s*(?P<figure>\S+?)\s*(?P<op>>=|<=|>|<)\s*(?P<threshold>\S+)\s*")
_MAX_NAME = 200


def _number(value: object, field_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{field_name} must be a number, got {value!r}", field=field_name)
    if not math.isfinite(value):
        raise InvalidInput(f"{field_name} must be a finite number, got {value!r}", field=field_name)
    return float(value)


def _integer(value: object, field_name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(f"{field_name} must be an integer >= {minimum}, got {value!r}", field=field_name)
    return value


def _check_figure_name(figure: object) -> str:
    if not isinstance(figure, str) or not _FIGURE.fullmatch(figure):
        raise InvalidInput(
            f"figure must be a dotted figure name such as 'drift.share' or 'drift.column.age' "
            f"(no spaces or wildcards), got {figure!r}",
            field="figure",
        )
    return figure


@dataclass(frozen=True)
class Condition:
    """``figure op threshold``, as a user writes it: ``drift.share > 0.3``."""

    figure: str
    op: Op
    threshold: float

    def holds(self, value: float) -> bool:
        return OPS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.figure} {self.op} {self.threshold:g}"


def parse_condition(text: str) -> Condition:
    """Read ``"<figure> <op> <threshold>"`` (``"performance.roc_auc < 0.7"``)."""
    match = _CONDITION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(
            f"condition must read '<figure> <op> <threshold>' with op one of > >= < <=, got {text!r}",
            field="condition",
        )
    try:
        threshold = float(match["threshold"])
    except ValueError:
        raise InvalidInput(
            f"condition threshold must be a number, got {match['threshold']!r}", field="threshold"
        ) from None
    return Condition(
        _check_figure_name(match["figure"]), cast(Op, match["op"]), _number(threshold, "threshold")
    )


@dataclass(frozen=True)
class AlertRule:
    """When ``figure op threshold`` holds, notify ``notifiers`` (names of configured notifiers).

    ``cooldown_s`` is the least time between two firings of the rule; ``for_evaluations`` is how
    many evaluations in a row the condition must hold before the rule fires (to ride out one noisy
    window). Invalid fields raise :class:`InvalidInput` naming the field."""

    name: str
    figure: str
    op: Op
    threshold: float
    severity: Severity = "warning"
    cooldown_s: int = 3600
    notifiers: tuple[str, ...] = ()
    for_evaluations: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > _MAX_NAME:
            raise InvalidInput(f"name must be 1 to {_MAX_NAME} characters, got {self.name!r}", field="name")
        if not self.name.isprintable():
            raise InvalidInput(f"name must not contain control characters: {self.name!r}", field="name")
        _check_figure_name(self.figure)
        if self.op not in OPS:
            raise InvalidInput(f"op must be one of > >= < <=, got {self.op!r}", field="op")
        object.__setattr__(self, "threshold", _number(self.threshold, "threshold"))
        if self.severity not in SEVERITIES:
            raise InvalidInput(
                f"severity must be one of {', '.join(SEVERITIES)}, got {self.severity!r}", field="severity"
            )
        _integer(self.cooldown_s, "cooldown_s", 0)
        _integer(self.for_evaluations, "for_evaluations", 1)
        notifiers = self.notifiers
        if isinstance(notifiers, str) or not isinstance(notifiers, Iterable):
            raise InvalidInput(f"notifiers must be a list of names, got {notifiers!r}", field="notifiers")
        names = tuple(notifiers)
        for position, name in enumerate(names):
            if not isinstance(name, str) or not name.strip():
                raise InvalidInput(
                    f"notifiers[{position}] must be a notifier name, got {name!r}",
                    field=f"notifiers[{position}]",
                )
        if len(set(names)) != len(names):
            raise InvalidInput(f"notifiers names a notifier twice: {list(names)!r}", field="notifiers")
        object.__setattr__(self, "notifiers", names)

    @classmethod
    def from_condition(cls, name: str, condition: str, **options: object) -> AlertRule:
        """A rule from ``"drift.share > 0.3"`` and the other fields as keywords."""
        parsed = parse_condition(condition)
        return cls(name, parsed.figure, parsed.op, parsed.threshold, **options)  # type: ignore[arg-type]

    @property
    def condition(self) -> Condition:
        return Condition(self.figure, self.op, self.threshold)

    def holds(self, value: float) -> bool:
        return OPS[self.op](value, self.threshold)

    def check_figure(self, known: Iterable[str]) -> None:
        """Raise :class:`InvalidInput` unless a figure the monitor computes is ``self.figure``.
        ``known`` holds names and ``fnmatch`` patterns (``"drift.column.*"``)."""
        names = list(known)
        if any(fnmatchcase(self.figure, pattern) for pattern in names):
            return
        shown = ", ".join(sorted(names)) or "none"
        raise InvalidInput(
            f"rule {self.name!r}: unknown figure {self.figure!r} (known: {shown})", field="figure"
        )

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "notifiers": list(self.notifiers)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> AlertRule:
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise InvalidInput(f"unknown alert rule field {unknown[0]!r}", field=unknown[0])
        missing = [f for f in ("name", "figure", "op", "threshold") if f not in data]
        if missing:
            raise InvalidInput(f"alert rule is missing {missing[0]!r}", field=missing[0])
        return cls(**data)  # type: ignore[arg-type]


@dataclass(frozen=True)
class AlertState:
    """Where one rule stands: ``breaches`` counts evaluations in a row where the condition held;
    ``fired_at_ms`` is the last time the rule fired (the cooldown runs from it);
    ``last_notified_at_ms`` the last event of either kind; ``acknowledged_by`` who took the current
    firing in hand (cleared when it resolves)."""

    status: Status = "ok"
    breaches: int = 0
    fired_at_ms: int | None = None
    resolved_at_ms: int | None = None
    last_notified_at_ms: int | None = None
    acknowledged_by: str | None = None

    def __post_init__(self) -> None:
        if self.status not in ("ok", "firing"):
            raise InvalidInput(f"status must be 'ok' or 'firing', got {self.status!r}", field="status")
        _integer(self.breaches, "breaches", 0)
        for name in ("fired_at_ms", "resolved_at_ms", "last_notified_at_ms"):
            value = getattr(self, name)
            if value is not None:
                _integer(value, name, 0)
        if self.acknowledged_by is not None and not isinstance(self.acknowledged_by, str):
            raise InvalidInput("acknowledged_by must be a user name", field="acknowledged_by")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> AlertState:
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise InvalidInput(f"unknown alert state field {unknown[0]!r}", field=unknown[0])
        return cls(**data)  # type: ignore[arg-type]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AlertState:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"alert state is not JSON: {exc}", field="state") from None
        if not isinstance(data, dict):
            raise InvalidInput("alert state must be a JSON object", field="state")
        return cls.from_dict(data)


@dataclass(frozen=True)
class Transition:
    """The state after one evaluation, and the event to notify (``None``: nothing to send)."""

    state: AlertState
    event: Event | None = field(default=None)


def in_cooldown(rule: AlertRule, state: AlertState, now_ms: int) -> bool:
    """Whether the rule fired less than ``cooldown_s`` ago."""
    return state.fired_at_ms is not None and now_ms - state.fired_at_ms < rule.cooldown_s * 1000


def step(rule: AlertRule, state: AlertState, value: float | None, now_ms: int) -> Transition:
    """The next state of ``rule`` after an evaluation that measured ``value`` at ``now_ms``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Transition(state)
    if not rule.holds(value):
        if state.status == "firing":
            resolved = replace(
                state,
                status="ok",
                breaches=0,
                resolved_at_ms=now_ms,
                last_notified_at_ms=now_ms,
                acknowledged_by=None,
            )
            return Transition(resolved, "resolved")
        return Transition(replace(state, breaches=0) if state.breaches else state)
    breaches = state.breaches + 1
    if state.status == "firing":
        return Transition(replace(state, breaches=breaches))
    if breaches < rule.for_evaluations or in_cooldown(rule, state, now_ms):
        return Transition(replace(state, breaches=breaches))
    fired = AlertState(
        status="firing",
        breaches=breaches,
        fired_at_ms=now_ms,
        resolved_at_ms=None,
        last_notified_at_ms=now_ms,
        acknowledged_by=None,
    )
    return Transition(fired, "fired")


def acknowledge(state: AlertState, user: str) -> AlertState:
    """Record that ``user`` took the firing alert in hand. It sends and suppresses nothing; the
    acknowledgement ends when the alert resolves. Acknowledging again keeps the first user."""
    if not isinstance(user, str) or not user.strip():
        raise InvalidInput(f"user must be a user name, got {user!r}", field="user")
    if state.status != "firing":
        raise Conflict("only a firing alert can be acknowledged; this one is resolved")
    if state.acknowledged_by is not None:
        return state
    return replace(state, acknowledged_by=user)


__all__ = [
    "OPS",
    "SEVERITIES",
    "AlertRule",
    "AlertState",
    "Condition",
    "Event",
    "Op",
    "Severity",
    "Status",
    "Transition",
    "acknowledge",
    "in_cooldown",
    "parse_condition",
    "step",
]
