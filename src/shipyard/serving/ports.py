"""What serving needs from outside its domain. :mod:`shipyard.app` wires the registry and the
deployment store in; tests may pass anything with these methods."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from shipyard.serving.model import Deployment, VersionWindow

if TYPE_CHECKING:
    from shipyard.packaging.package import LoadedModel


class ModelSource(Protocol):
    """Registered model versions, as the prediction server loads them."""

    def resolve(self, model: str, ref: str) -> int:
        """The version ``ref`` names (``"3"`` or an alias such as ``"champion"``); NotFound otherwise."""
        ...

    def load(self, model: str, version: int) -> LoadedModel:
        """The version's package, digest-checked and loaded with the registry's safe-loading rules."""
        ...


class DeploymentSource(Protocol):
    """The deployments a prediction server follows."""

    def revision(self) -> int:
        """The highest revision of any deployment: cheap, polled to notice a change."""
        ...

    def active(self) -> list[Deployment]:
        """Every deployment that is not deleted (paused ones included)."""
        ...

    def get(self, name: str) -> Deployment:
        """One deployment; NotFound (field ``deployment``) if there is none by that name."""
        ...


class WindowSink(Protocol):
    """Where replicas report their live figures per version (see :class:`VersionWindow`)."""

    def record(self, windows: Sequence[VersionWindow]) -> None: ...


class ModelCatalog(Protocol):
    """The registry as the deployment service sees it (wired in :mod:`shipyard.app`)."""

    def resolve(self, model: str, ref: str) -> int:
        """The version ``ref`` names (``"3"`` or an alias); NotFound naming the model, version or alias."""
        ...

    def set_alias(self, model: str, alias: str, version: int, *, actor: str) -> None:
        """Point ``alias`` at ``version`` (only when a canary policy sets ``promote_alias``)."""
        ...
