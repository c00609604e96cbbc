"""Backends by name. Built-ins are registered through the same entry points a third party would use
(``[project.entry-points."shipyard.<group>"]``), so no service ever branches on a backend's name."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from shipyard.errors import ConfigError


@cache
def _group(group: str) -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=f"shipyard.{group}")}


def names(group: str) -> list[str]:
    return sorted(_group(group))


def load(group: str, name: str) -> object:
    """Return the object registered as ``name`` in ``shipyard.<group>``."""
    entry = _group(group).get(name)
    if entry is None:
        known = ", ".join(names(group)) or "none installed"
        raise ConfigError(f"unknown {group.replace('_', ' ')[:-1]} backend {name!r} (known: {known})")
    return entry.load()  # type: ignore[attr-defined]
