"""The canary decider's reasoning without a database: quantiles from summed histograms, checks
that wait for samples, and the step an analysis leads to."""

from __future__ import annotations

import math

import pytest

from shipyard.serving.canary import Figures, LabelFigure, checks, decide, next_weight, quantile, summed
from shipyard.serving.model import CanaryPolicy
from support.deployments import histogram, window

POLICY = CanaryPolicy(steps=(10, 25, 50, 100), step_seconds=60, min_requests=100)


def test_quantile_interpolates_inside_the_bucket_like_prometheus() -> None:
    buckets = {10.0: 50, 20.0: 100, math.inf: 100}
    assert quantile(0.5, buckets) == 10.0
    assert quantile(0.75, buckets) == 15.0
    assert quantile(0.99, buckets) == pytest.approx(19.8)
    assert quantile(0.99, {10.0: 0, math.inf: 10}) == 10.0  # in the +Inf bucket: the highest bound
    assert quantile(0.99, {}) is None and quantile(0.99, {5.0: 0}) is None


def test_replicas_windows_add_up_per_bucket() -> None:
    a = window("d", 1, "challenger", 0, requests=100, errors=1, latency_ms=3.0)
    b = window("d", 1, "challenger", 0, requests=300, errors=3, latency_ms=30.0, agreed=0.5)
    total = summed([a, b])
    assert (total.requests, total.errors, total.compared, total.agreed) == (400, 4, 400, 250)
    assert total.latency_buckets[5.0] == 100 and total.latency_buckets[50.0] == 400
    assert total.error_rate == 0.01
    assert 25.0 < (total.p99 or 0) <= 50.0


def _figures(requests: int, *, errors: int = 0, latency: float = 4.0, agreed: float = 1.0) -> Figures:
    return Figures(requests, errors, histogram([latency] * requests), requests, int(requests * agreed))


def test_checks_are_pending_until_both_sides_have_samples() -> None:
    found = {c.name: c for c in checks(POLICY, _figures(50), _figures(500))}
    assert found["error_rate"].status == "pass"  # the challenger's own samples suffice
    assert found["latency_p99_ratio"].status == "pending"  # the primary has 50 of 100
    assert found["latency_p99_ratio"].samples == 50
    assert checks(POLICY, _figures(0), _figures(0))[0].value is None


@pytest.mark.parametrize(
    ("challenger", "failed"),
    [
        (_figures(200, errors=5), "error_rate"),
        (_figures(200, latency=40.0), "latency_p99_ratio"),
        (_figures(200, agreed=0.9), "agreement"),
    ],
)
def test_one_failed_check_rolls_back_at_once(challenger: Figures, failed: str) -> None:
    decision = decide(POLICY, 10, 0, 1000, _figures(200), challenger)
    assert (decision.action, decision.weight) == ("rollback", 0)
    assert decision.reason == f"check failed: {failed}"


def test_a_passing_step_advances_only_once_it_has_lasted() -> None:
    assert decide(POLICY, 10, 0, 59_000, _figures(200), _figures(200)).action == "wait"
    advanced = decide(POLICY, 10, 0, 60_000, _figures(200), _figures(200))
    assert (advanced.action, advanced.weight) == ("advance", 25)
    promoted = decide(POLICY, 50, 0, 60_000, _figures(200), _figures(200))
    assert (promoted.action, promoted.weight) == ("promote", 100)  # 100 is the promotion


def test_no_traffic_waits_then_fails_at_the_deadline() -> None:
    waiting = decide(POLICY, 10, 0, 599_000, _figures(0), _figures(0))
    assert waiting.action == "wait" and "waiting for samples" in waiting.reason
    failed = decide(POLICY, 10, 0, 600_000, _figures(0), _figures(0))
    assert failed.action == "rollback" and "no traffic is not a pass" in failed.reason


def test_label_metrics_count_only_when_a_drop_limit_is_set() -> None:
    labels = (LabelFigure(0.9, 500), LabelFigure(0.85, 500))
    assert [c.name for c in checks(POLICY, _figures(200), _figures(200), labels)][-1] == "agreement"
    strict = CanaryPolicy(min_requests=100, max_metric_drop=0.02)
    [*_, label] = checks(strict, _figures(200), _figures(200), labels)
    assert (label.name, label.status) == ("label_metric_drop", "fail")
    assert label.value == pytest.approx(0.05)


def test_agreement_off_and_steps() -> None:
    off = CanaryPolicy(min_agreement=0, min_requests=100)
    assert "agreement" not in [c.name for c in checks(off, _figures(200), _figures(200, agreed=0.0))]
    assert [next_weight(POLICY, w) for w in (5, 10, 25, 50)] == [10, 25, 50, 100]
