"""The runs table's page of an experiment with many parents: children nest under theirs, in the
table's order, however many parents the page holds (the search language caps a filter's terms)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.app import App, build_app
from shipyard.config import load_settings
from shipyard.server.ui.tracking_views import RunsQuery, runs_page


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    built = build_app(load_settings(home=tmp_path / "home"))
    yield built
    built.close()


def test_a_page_of_100_parents_nests_every_child_under_its_parent(app: App) -> None:
    t = app.tracking
    experiment = t.create_experiment("many")
    parents = [t.create_run("many", name=f"p{i:03d}") for i in range(120)]
    children = {}
    for i in (0, 55, 99, 110):  # spread over both children queries, and one past the first page
        children[parents[i].id] = [
            t.create_run("many", name=f"p{i:03d}-c{k}", parent_id=parents[i].id).id for k in range(2)
        ]
    page = runs_page(t, experiment, RunsQuery(order_by="name ASC", per_page=100))
    assert page.error is None and page.has_next
    top = [row.run.name for row in page.rows if row.parent is None]
    assert top == [f"p{i:03d}" for i in range(100)]  # children are not counted as top-level rows
    names = [row.run.name for row in page.rows]
    for i in (0, 55, 99):
        at = names.index(f"p{i:03d}")
        assert names[at + 1 : at + 3] == [f"p{i:03d}-c0", f"p{i:03d}-c1"]
        assert page.rows[at].children == 2 and page.rows[at + 1].parent == parents[i].id
    assert "p110-c0" not in names


def test_a_filter_lists_matches_flat_and_nests_a_child_whose_parent_matched(app: App) -> None:
    t = app.tracking
    experiment = t.create_experiment("flat")
    parent = t.create_run("flat", name="sweep")
    child = t.create_run("flat", name="trial", parent_id=parent.id)
    orphan = t.create_run("flat", name="other-trial", parent_id=t.create_run("flat", name="x").id)
    page = runs_page(
        t, experiment, RunsQuery(filter="name IN ('sweep', 'trial', 'other-trial')", order_by="name ASC")
    )
    rows = {row.run.id: row for row in page.rows}
    assert set(rows) == {parent.id, child.id, orphan.id}
    assert rows[child.id].parent == parent.id and rows[parent.id].children == 1
    assert rows[orphan.id].parent is None  # its parent did not match: listed on its own
