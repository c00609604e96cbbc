"""Metric histories downsampled in the database (``TrackingService.metric_curve``), checked against
a numpy oracle on SQLite and PostgreSQL: every step range keeps its lowest and highest point."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.errors import NotFound
from shipyard.migrations import runner
from support.databases import fresh_postgres_database

N = 20_000
POINTS = 500


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    home = tmp_path_factory.mktemp(f"curves-{request.param}")
    if request.param == "sqlite":
        built = build_app(load_settings(home=home))
        yield built
        built.close()
        return
    with fresh_postgres_database() as url:
        built = build_app(
            load_settings(home=home, db_url=url, artifacts=str(home / "artifacts")), migrate=False
        )
        runner.upgrade(built.db)
        yield built
        built.close()


def _values() -> np.ndarray:
    rng = np.random.default_rng(3)
    values = 1 / (np.arange(N) + 1) + rng.normal(0, 0.01, N)
    values[12_345] = 5.0  # a spike and a dip the chart must show
    values[7_777] = -3.0
    return values


def test_a_long_history_keeps_each_ranges_lowest_and_highest_point(app: App) -> None:
    t = app.tracking
    t.get_or_create_experiment("curves")
    run = t.create_run("curves", name="long")
    values = _values()
    steps = np.arange(N) * 3 + 10  # steps need not start at 0 or be dense
    t.log_metrics(
        run.id, [("loss", float(v), int(s), 1_000 + int(s)) for s, v in zip(steps, values, strict=True)]
    )
    curve = t.metric_curve(run.id, "loss", POINTS)

    ranges = POINTS // 2
    width = (int(steps[-1]) - int(steps[0])) // ranges + 1
    expected: set[int] = set()
    which = (steps - steps[0]) // width
    for r in np.unique(which):
        inside = np.flatnonzero(which == r)
        expected.add(int(steps[inside[np.argmin(values[inside])]]))
        expected.add(int(steps[inside[np.argmax(values[inside])]]))
    got = [m.step for m in curve]
    assert got == sorted(expected)
    assert len(curve) <= POINTS
    by_step = dict(zip(steps.tolist(), values.tolist(), strict=True))
    assert all(m.value == by_step[m.step] and m.timestamp == 1_000 + m.step for m in curve)
    assert max(m.value for m in curve) == 5.0 and min(m.value for m in curve) == -3.0


def test_a_short_history_comes_back_whole_nan_included(app: App) -> None:
    t = app.tracking
    t.get_or_create_experiment("curves")
    run = t.create_run("curves", name="short")
    t.log_metrics(run.id, [("acc", 0.5, 0, 1), ("acc", math.nan, 1, 2), ("acc", 0.7, 2, 3)])
    curve = t.metric_curve(run.id, "acc", POINTS)
    assert [m.step for m in curve] == [0, 1, 2] and math.isnan(curve[1].value)
    assert t.metric_curve(run.id, "missing", POINTS) == []


def test_nan_points_are_left_out_of_a_downsampled_curve(app: App) -> None:
    t = app.tracking
    t.get_or_create_experiment("curves")
    run = t.create_run("curves", name="gaps")
    points = [("loss", math.nan if s % 2 else float(s), s, s) for s in range(2_000)]
    t.log_metrics(run.id, points)
    curve = t.metric_curve(run.id, "loss", 100)
    assert curve and all(m.step % 2 == 0 and not math.isnan(m.value) for m in curve)
    assert curve[0].step == 0 and curve[-1].step == 1_998


def test_an_unknown_run_is_not_found(app: App) -> None:
    with pytest.raises(NotFound, match="run"):
        app.tracking.metric_curve("0123456789abcdef0123456789abcdef", "loss", POINTS)
