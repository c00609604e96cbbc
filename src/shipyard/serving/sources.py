"""Deployment sources the prediction server can follow without the deployments store:

- :class:`MemoryDeployments`, the port's in-memory implementation (tests, embedding);
- :class:`StaticDeployments`, built from ``--model NAME@ALIAS`` on the command line: one ``single``
  deployment per model, named after it, whose alias is resolved again on every poll, so moving
  ``champion`` moves the traffic.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace

from shipyard.errors import InvalidInput, NotFound
from shipyard.serving.model import Deployment, Target, VersionWindow
from shipyard.serving.ports import ModelSource

MAX_NAME = 200


class MemoryDeployments:
    """:class:`~shipyard.serving.ports.DeploymentSource` and ``WindowSink`` held in memory."""

    def __init__(self, deployments: Iterable[Deployment] = ()) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Deployment] = {}
        self._revision = 0
        self.windows: list[VersionWindow] = []
        for d in deployments:
            self.put(d)

    def put(self, deployment: Deployment) -> Deployment:
        """Add or replace a deployment; it gets the next revision."""
        with self._lock:
            self._revision += 1
            stored = replace(deployment, revision=self._revision)
            self._items[deployment.name] = stored
            return stored

    def remove(self, name: str) -> None:
        with self._lock:
            self._items.pop(name, None)
            self._revision += 1

    def revision(self) -> int:
        with self._lock:
            return self._revision

    def active(self) -> list[Deployment]:
        with self._lock:
            return sorted(self._items.values(), key=lambda d: d.name)

    def get(self, name: str) -> Deployment:
        with self._lock:
            found = self._items.get(name)
        if found is None:
            raise NotFound(f"deployment {name!r} does not exist", field="deployment")
        return found

    def record(self, windows: Sequence[VersionWindow]) -> None:
        with self._lock:
            self.windows.extend(windows)


def parse_model_ref(text: str) -> tuple[str, str]:
    """``churn@champion`` -> ("churn", "champion"); ``churn/3`` -> ("churn", "3")."""
    for sep in ("@", "/"):
        name, found, ref = text.partition(sep)
        if found and name and ref and len(name) <= MAX_NAME:
            return name, ref
    raise InvalidInput(
        f"--model takes NAME@ALIAS or NAME/VERSION (e.g. churn@champion), got {text!r}", field="model"
    )


class StaticDeployments(MemoryDeployments):
    """One ``single`` deployment per ``NAME@ALIAS`` (or ``NAME/VERSION``), re-resolved on each
    :meth:`revision` call so the server follows an alias that moves."""

    def __init__(self, models: ModelSource, refs: Sequence[str], *, public: bool = False) -> None:
        super().__init__()
        self._models = models
        self._refs = [parse_model_ref(r) for r in refs]
        names = [name for name, _ in self._refs]
        if len(set(names)) != len(names):
            raise InvalidInput(f"--model names one version per model, got {list(refs)}", field="model")
        self._public = public
        self._resolved: dict[str, int] = {}
        self.refresh()

    def refresh(self) -> None:
        for name, ref in self._refs:
            version = self._models.resolve(name, ref)
            if self._resolved.get(name) == version:
                continue
            self._resolved[name] = version
            alias = None if ref.isdigit() else ref
            self.put(
                Deployment(
                    name=name,
                    model=name,
                    strategy="single",
                    targets=(Target(name, version, "primary", 100, alias),),
                    public=self._public,
                )
            )

    def revision(self) -> int:
        self.refresh()
        return super().revision()
