"""Alert rules and the alert state machine: what a monitor's owner sees happen to an alert as the
figure moves, evaluation after evaluation."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from shipyard.errors import Conflict, InvalidInput
from shipyard.monitoring.alerting import (
    AlertRule,
    AlertState,
    Transition,
    acknowledge,
    parse_condition,
    step,
)
from shipyard.monitoring.notifiers import Notification

MINUTE = 60_000
KNOWN = (
    "drift.share",
    "drift.column.*",
    "performance.roc_auc",
    "estimated.roc_auc",
    "quality.nulls.*",
    "ops.latency_p99_ms",
    "ops.error_rate",
    "stability.nan_share",
    "age.days",
)


def run(rule: AlertRule, values: list[float | None], *, every_ms: int = MINUTE) -> list[Transition]:
    """Feed ``values`` to ``rule`` one evaluation apart, from a fresh state."""
    state = AlertState()
    out = []
    for i, value in enumerate(values):
        transition = step(rule, state, value, now_ms=1_000_000 + i * every_ms)
        out.append(transition)
        state = transition.state
    return out


def events(transitions: list[Transition]) -> list[str | None]:
    return [t.event for t in transitions]


def drift_rule(**options: object) -> AlertRule:
    return AlertRule("drift-high", "drift.share", ">", 0.3, **options)  # type: ignore[arg-type]


def test_an_alert_fires_once_and_is_deduplicated_while_the_condition_holds() -> None:
    transitions = run(drift_rule(cooldown_s=0), [0.1, 0.5, 0.6, 0.7, 0.4])
    assert events(transitions) == [None, "fired", None, None, None]
    assert [t.state.status for t in transitions] == ["ok", "firing", "firing", "firing", "firing"]
    assert transitions[1].state.fired_at_ms == 1_000_000 + MINUTE


def test_an_alert_resolves_when_the_condition_stops_holding() -> None:
    transitions = run(drift_rule(), [0.5, 0.2, 0.1])
    assert events(transitions) == ["fired", "resolved", None]
    resolved = transitions[1].state
    assert resolved.status == "ok"
    assert resolved.resolved_at_ms == 1_000_000 + MINUTE
    assert resolved.fired_at_ms == 1_000_000  # kept: the cooldown runs from it
    assert resolved.breaches == 0


def test_with_a_cooldown_an_alert_fires_again_only_after_the_cooldown() -> None:
    rule = drift_rule(cooldown_s=600)  # ten evaluations of one minute
    flapping = [0.5, 0.1] + [0.5] * 12
    transitions = run(rule, flapping)
    fired_at = [i for i, t in enumerate(transitions) if t.event == "fired"]
    assert fired_at == [0, 10]  # the breaches at minutes 2..9 fall inside the cooldown
    assert events(transitions)[1] == "resolved"
    assert all(t.state.status == "ok" for t in transitions[1:10])
    assert transitions[10].state.fired_at_ms == 1_000_000 + 10 * MINUTE


def test_the_cooldown_is_measured_from_the_last_firing_not_the_resolve() -> None:
    rule = drift_rule(cooldown_s=300)
    state = step(rule, AlertState(), 0.9, now_ms=0).state
    state = step(rule, state, 0.9, now_ms=280_000).state  # still firing
    state = step(rule, state, 0.1, now_ms=290_000).state  # resolved just before the cooldown ends
    assert step(rule, state, 0.9, now_ms=299_999).event is None
    assert step(rule, state, 0.9, now_ms=300_000).event == "fired"


def test_without_a_cooldown_a_flapping_figure_fires_each_time() -> None:
    assert events(run(drift_rule(cooldown_s=0), [0.5, 0.1, 0.5, 0.1])) == [
        "fired",
        "resolved",
        "fired",
        "resolved",
    ]


def test_for_evaluations_needs_that_many_breaches_in_a_row() -> None:
    rule = drift_rule(for_evaluations=3)
    transitions = run(rule, [0.5, 0.5, 0.1, 0.5, 0.5, 0.5, 0.5])
    assert events(transitions) == [None, None, None, None, None, "fired", None]
    assert [t.state.breaches for t in transitions] == [1, 2, 0, 1, 2, 3, 4]


def test_a_missing_figure_changes_nothing() -> None:
    rule = drift_rule(for_evaluations=2)
    transitions = run(rule, [0.5, None, math.nan, 0.5, None, 0.1])
    assert events(transitions) == [None, None, None, "fired", None, "resolved"]
    assert transitions[1].state == transitions[0].state
    assert transitions[4].state == transitions[3].state


@pytest.mark.parametrize(
    ("op", "value", "holds"),
    [(">", 0.7, False), (">=", 0.7, True), ("<", 0.7, False), ("<=", 0.7, True), ("<", 0.69, True)],
)
def test_each_comparison_includes_or_excludes_the_threshold(op: str, value: float, holds: bool) -> None:
    rule = AlertRule("auc-low", "performance.roc_auc", op, 0.7, cooldown_s=0)  # type: ignore[arg-type]
    assert (step(rule, AlertState(), value, 0).event == "fired") is holds


def test_acknowledge_records_the_user_and_ends_with_the_firing() -> None:
    rule = drift_rule(cooldown_s=0)
    firing = step(rule, AlertState(), 0.5, 0).state
    acked = acknowledge(firing, "alice")
    assert acked.acknowledged_by == "alice"
    assert acknowledge(acked, "bob").acknowledged_by == "alice"  # the first one stays
    # Acknowledging suppresses no event: the resolve is still reported, and clears it.
    resolved = step(rule, acked, 0.1, MINUTE)
    assert resolved.event == "resolved"
    assert resolved.state.acknowledged_by is None
    # The next firing starts unacknowledged.
    again = step(rule, resolved.state, 0.5, 2 * MINUTE)
    assert again.event == "fired"
    assert again.state.acknowledged_by is None


def test_only_a_firing_alert_can_be_acknowledged() -> None:
    with pytest.raises(Conflict, match="firing"):
        acknowledge(AlertState(), "alice")
    firing = step(drift_rule(), AlertState(), 0.5, 0).state
    with pytest.raises(InvalidInput) as caught:
        acknowledge(firing, " ")
    assert caught.value.field == "user"


def test_state_round_trips_through_json() -> None:
    rule = drift_rule(cooldown_s=60)
    state = acknowledge(step(rule, AlertState(), 0.5, 123_456).state, "alice")
    assert AlertState.from_json(state.to_json()) == state
    assert AlertState.from_json(AlertState().to_json()) == AlertState()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("not json", "state"),
        ("[1]", "state"),
        ('{"status": "burning"}', "status"),
        ('{"breaches": -1}', "breaches"),
        ('{"fired_at_ms": "yesterday"}', "fired_at_ms"),
        ('{"colour": "red"}', "colour"),
    ],
)
def test_a_corrupt_state_is_refused_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        AlertState.from_json(text)
    assert caught.value.field == field


def test_a_rule_round_trips_through_a_dict() -> None:
    rule = AlertRule("auc", "estimated.roc_auc", "<", 0.7, "critical", 120, ("ops-slack", "oncall"), 2)
    data = rule.to_dict()
    assert data["notifiers"] == ["ops-slack", "oncall"]
    assert AlertRule.from_dict(data) == rule


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"name": ""}, "name"),
        ({"name": "a\nb"}, "name"),
        ({"figure": "drift share"}, "figure"),
        ({"figure": "drift.column.*"}, "figure"),
        ({"figure": "share"}, "figure"),
        ({"op": "=="}, "op"),
        ({"threshold": "high"}, "threshold"),
        ({"threshold": math.inf}, "threshold"),
        ({"threshold": True}, "threshold"),
        ({"severity": "fatal"}, "severity"),
        ({"cooldown_s": -1}, "cooldown_s"),
        ({"cooldown_s": 1.5}, "cooldown_s"),
        ({"for_evaluations": 0}, "for_evaluations"),
        ({"notifiers": "slack"}, "notifiers"),
        ({"notifiers": ("slack", "slack")}, "notifiers"),
        ({"notifiers": ("slack", "")}, "notifiers[1]"),
    ],
)
def test_a_bad_rule_field_is_named(fields: dict[str, object], bad: str) -> None:
    base: dict[str, object] = {"name": "r", "figure": "drift.share", "op": ">", "threshold": 0.3}
    with pytest.raises(InvalidInput) as caught:
        AlertRule(**{**base, **fields})  # type: ignore[arg-type]
    assert caught.value.field == bad


def test_a_rule_on_an_unknown_figure_gets_a_clear_error() -> None:
    rule = AlertRule("typo", "drift.shares", ">", 0.3)
    with pytest.raises(InvalidInput) as caught:
        rule.check_figure(KNOWN)
    assert caught.value.field == "figure"
    message = str(caught.value)
    assert "'drift.shares'" in message and "'typo'" in message
    assert "drift.share" in message and "drift.column.*" in message  # lists what is known


@pytest.mark.parametrize(
    "figure", ["drift.share", "drift.column.age", "drift.column.plan_type", "quality.nulls.age", "age.days"]
)
def test_known_figures_and_patterns_are_accepted(figure: str) -> None:
    AlertRule("r", figure, ">", 1).check_figure(KNOWN)


def test_a_pattern_matches_its_family_only() -> None:
    with pytest.raises(InvalidInput):
        AlertRule("r", "drift.column.age", ">", 0.3).check_figure(["drift.share", "quality.nulls.*"])


def test_a_condition_reads_as_written() -> None:
    condition = parse_condition("performance.roc_auc <= 0.65")
    assert (condition.figure, condition.op, condition.threshold) == ("performance.roc_auc", "<=", 0.65)
    assert str(condition) == "performance.roc_auc <= 0.65"
    assert parse_condition("drift.share>0.3").op == ">"
    assert parse_condition("ops.latency_p99_ms >= 2.5e2").threshold == 250.0
    rule = AlertRule.from_condition("auc", "estimated.roc_auc < 0.7", severity="critical")
    assert (rule.figure, rule.op, rule.threshold, rule.severity) == (
        "estimated.roc_auc",
        "<",
        0.7,
        "critical",
    )


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("drift.share 0.3", "condition"),
        ("drift.share == 0.3", "condition"),
        ("drift.share > high", "threshold"),
        ("drift.share > nan", "threshold"),
        ("> 0.3", "condition"),
        ("drift share > 0.3", "condition"),
    ],
)
def test_a_bad_condition_names_what_is_wrong(text: str, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_condition(text)
    assert caught.value.field == field


def test_the_alerts_page_examples_run_as_written() -> None:
    page = Path(__file__).parents[2] / "docs" / "alerts.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.DOTALL)
    assert len(blocks) == 3
    namespace: dict[str, object] = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"alerts.md[{i}]", "exec"), namespace)


def test_an_event_becomes_a_notification_that_says_what_happened() -> None:
    rule = AlertRule("auc-low", "performance.roc_auc", "<", 0.7, "critical")
    fired = step(rule, AlertState(), 0.6512, now_ms=5_000)
    assert fired.event is not None
    sent = Notification.for_event(
        rule, fired.event, 0.6512, alert_id="al-7", monitor="churn-perf", deployment="churn-prod", at_ms=5_000
    )
    assert (sent.status, sent.rule, sent.figure, sent.op, sent.threshold, sent.severity) == (
        "firing",
        "auc-low",
        "performance.roc_auc",
        "<",
        0.7,
        "critical",
    )
    assert sent.summary == "performance.roc_auc is 0.6512, below 0.7"
    assert sent.title == "[FIRING] critical: auc-low on churn-perf"
    resolved = step(rule, fired.state, 0.74, now_ms=6_000)
    assert resolved.event is not None
    back = Notification.for_event(
        rule,
        resolved.event,
        0.74,
        alert_id="al-7",
        monitor="churn-perf",
        deployment="churn-prod",
        at_ms=6_000,
    )
    assert back.status == "resolved"
    assert back.summary == "performance.roc_auc is back to 0.74 (alert when < 0.7)"
