"""One plugin lookup for every backend kind: built-ins without any installed metadata, installed
entry points that add or replace names, and one error naming the known names.

Third-party plugins are real distributions: a ``*.dist-info`` folder with an ``entry_points.txt``
and a module, put on ``sys.path`` the way an installed package would be."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.core.plugins import PluginGroup
from shipyard.errors import ConfigError, InvalidInput
from shipyard.packaging.flavors import FLAVORS
from shipyard.storage.artifacts import STORES as ARTIFACT_STORES
from shipyard.storage.kv import STORES as ONLINE_STORES
from shipyard.storage.kv import open_online_store
from shipyard.storage.kv.memory import MemoryOnlineStore

ROOT = Path(__file__).parents[2]
MODULE = "acme_shipyard_plugins"

ACME_CODE = """
class Widget:
    kind = "acme widget"


class FasterGadget:
    kind = "acme gadget"


class KeyValue:
    @classmethod
    def from_url(cls, url):
        return ("acme store at", url)
"""


def _install(site: Path, dist: str, entry_points: str) -> None:
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path holding the ``acme`` module; tests install distributions into it."""
    (tmp_path / f"{MODULE}.py").write_text(ACME_CODE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop(MODULE, None)


def _things() -> PluginGroup:
    return PluginGroup(
        "test_things",
        builtins={"gadget": "collections:OrderedDict", "nested": "os:path.join"},
        noun="test thing",
    )


def test_built_ins_load_with_nothing_installed() -> None:
    things = _things()
    assert things.names() == ["gadget", "nested"]
    import collections
    import os

    assert things.load("gadget") is collections.OrderedDict
    assert things.load("nested") is os.path.join
    assert "gadget" in things and "widget" not in things


def test_an_installed_distribution_adds_names_and_replaces_built_ins(site: Path) -> None:
    _install(
        site,
        "acme_plugins",
        f"[shipyard.test_things]\nwidget = {MODULE}:Widget\ngadget = {MODULE}:FasterGadget\n",
    )
    things = _things()
    assert things.names() == ["gadget", "nested", "widget"]
    assert things.load("widget").kind == "acme widget"
    assert things.load("gadget").kind == "acme gadget"  # the built-in is replaced


def test_entry_points_are_read_once_until_refreshed(site: Path) -> None:
    things = _things()
    assert "widget" not in things
    _install(site, "acme_plugins", f"[shipyard.test_things]\nwidget = {MODULE}:Widget\n")
    assert "widget" not in things
    things.refresh()
    assert "widget" in things


def test_an_unknown_name_is_a_config_error_naming_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"^unknown test thing 'gizmo' \(known: gadget, nested\)$"):
        _things().load("gizmo")


def test_the_error_type_and_field_follow_the_group() -> None:
    flavors = PluginGroup(
        "test_things", builtins={"a": "os:sep"}, noun="model flavor", error=InvalidInput, field="flavor"
    )
    with pytest.raises(InvalidInput, match=r"unknown model flavor 'keras' \(known: a\)") as caught:
        flavors.load("keras")
    assert caught.value.field == "flavor"


def test_an_entry_point_that_cannot_load_names_its_distribution(site: Path) -> None:
    _install(site, "acme_plugins", f"[shipyard.test_things]\nbroken = {MODULE}:Missing\n")
    with pytest.raises(ConfigError, match=r"'broken' is registered by acme_plugins .* cannot be loaded"):
        _things().load("broken")


def test_shipyards_own_entry_points_never_shadow_the_built_ins(site: Path) -> None:
    # Metadata of an install made before a module moved: the built-in table is what counts.
    _install(site, "shipyard", "[shipyard.test_things]\ngadget = shipyard.moved_away:Gadget\n")
    import collections

    assert _things().load("gadget") is collections.OrderedDict


def test_a_plugin_online_store_is_opened_by_its_scheme(site: Path) -> None:
    _install(site, "acme_plugins", f"[shipyard.online_stores]\nacme = {MODULE}:KeyValue\n")
    ONLINE_STORES.refresh()
    try:
        assert open_online_store("acme://shelf/1") == ("acme store at", "acme://shelf/1")  # type: ignore[comparison-overlap]
        assert isinstance(open_online_store("memory://"), MemoryOnlineStore)
    finally:
        ONLINE_STORES.refresh()


@pytest.mark.parametrize("group", [ARTIFACT_STORES, ONLINE_STORES, FLAVORS], ids=lambda g: g.name)
def test_the_packages_entry_points_list_exactly_the_built_ins(group: PluginGroup) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"][group.group] == group.builtins
    for name in group.builtins:
        assert group.load(name) is not None
