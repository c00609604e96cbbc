"""Backends by name: one lookup for every kind of plugin (artifact stores, online stores, model
flavors; executors, notifiers and serving targets register the same way).

A :class:`PluginGroup` is the entry-point group ``shipyard.<name>`` plus Shipyard's own built-ins.
Built-ins come from the ``builtins`` table in code, so they work from a source checkout and from
an install whose metadata is older than the code; Shipyard's own entry points (listed in
``pyproject.toml`` for tools that list plugins) are therefore not read. Any other installed
distribution adds names through the group, or replaces a built-in by registering its name.

Adding a kind of backend (say, pipeline executors)::

    # shipyard/pipelines/executors/__init__.py
    EXECUTORS = PluginGroup(
        "executors",
        builtins={"local": "shipyard.pipelines.executors.local:LocalExecutor",
                  "ray": "shipyard.pipelines.executors.ray:RayExecutor"},
        noun="pipeline executor",
    )
    executor_class = EXECUTORS.load(settings.executor)   # ConfigError naming the known ones

    # pyproject.toml: the same table, as entry points
    [project.entry-points."shipyard.executors"]
    local = "shipyard.pipelines.executors.local:LocalExecutor"

A third party ships ``[project.entry-points."shipyard.executors"] k8s = "acme.k8s:Executor"``
in its own package; nothing in Shipyard changes. No service branches on a backend's name.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points

from shipyard.errors import ConfigError, ShipyardError

#: The distribution whose entry points duplicate the built-in tables.
OWN_DISTRIBUTION = "shipyard"


class PluginGroup:
    """The plugins of the entry-point group ``shipyard.<name>``, plus ``builtins`` (name ->
    ``"module:attribute"``). An unknown name raises ``error`` (a :class:`ConfigError` unless told
    otherwise, e.g. InvalidInput for a name a user typed) naming the known ones."""

    def __init__(
        self,
        name: str,
        *,
        builtins: Mapping[str, str],
        noun: str,
        error: type[ShipyardError] = ConfigError,
        field: str | None = None,
        shown: str = "{}",
    ) -> None:
        for target in builtins.values():
            if ":" not in target:
                raise ValueError(f"built-in {target!r} is not 'module:attribute'")
        self.name = name
        self.group = f"shipyard.{name}"
        self.builtins = dict(builtins)
        self.noun = noun
        self._error = error
        self._field = field
        self._shown = shown
        self._installed: dict[str, EntryPoint] | None = None

    def __repr__(self) -> str:
        return f"PluginGroup({self.group!r}, names={self.names()!r})"

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self.builtins or name in self._entry_points())

    def names(self) -> list[str]:
        """Every known name, built-in or installed, sorted."""
        return sorted(set(self.builtins) | set(self._entry_points()))

    def load(self, name: str) -> object:
        """The object registered as ``name``: an installed entry point first, else the built-in."""
        entry = self._entry_points().get(name)
        if entry is not None:
            try:
                return entry.load()
            except (ImportError, AttributeError) as exc:
                where = entry.dist.name if entry.dist is not None else "an installed package"
                raise ConfigError(
                    f"{self.noun} {name!r} is registered by {where} as {entry.value!r} but cannot be "
                    f"loaded: {type(exc).__name__}: {exc}",
                    field=self._field,
                ) from exc
        target = self.builtins.get(name)
        if target is None:
            raise self.unknown(name)
        module, _, attribute = target.partition(":")
        value: object = importlib.import_module(module)
        for part in attribute.split("."):
            value = getattr(value, part)
        return value

    def unknown(self, name: str) -> ShipyardError:
        """The error for a name nobody registered (raise it)."""
        known = ", ".join(self._shown.format(n) for n in self.names()) or "none installed"
        return self._error(f"unknown {self.noun} {name!r} (known: {known})", field=self._field)

    def refresh(self) -> None:
        """Read the installed entry points again (after installing a package in this process)."""
        self._installed = None

    def _entry_points(self) -> dict[str, EntryPoint]:
        if self._installed is None:
            self._installed = {
                entry.name: entry
                for entry in entry_points(group=self.group)
                if entry.dist is None or entry.dist.name != OWN_DISTRIBUTION
            }
        return self._installed


__all__ = ["OWN_DISTRIBUTION", "PluginGroup"]
