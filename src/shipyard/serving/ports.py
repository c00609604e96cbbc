"""What serving needs from outside its domain. :mod:`shipyard.app` wires the registry and the
deployment store in; tests may pass anything with these methods."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


class PredictAuthorizer(Protocol):
    """Who may predict: the accounts service behind a token cache."""

    def authorize(self, secret: str, model: str) -> str:
        """The user a bearer secret stands for if it may perform ``deployments.predict`` on
        ``model``; Unauthenticated (unknown, expired, revoked) or PermissionDenied otherwise."""
        ...

    def authenticate(self, secret: str) -> str:
        """The user a bearer secret stands for; Unauthenticated (unknown, expired, revoked)
        otherwise."""
        ...


class OnlineRows(Protocol):
    """What an online feature read returns: columns in request order (join keys, then features)."""

    @property
    def columns(self) -> dict[str, list[object]]: ...


class OnlineFeatures(Protocol):
    """Online features by entity key, as the feature store (or a remote one) serves them."""

    def get_online_features(
        self,
        features: Sequence[str] | None = None,
        service: str | None = None,
        *,
        entity_rows: Sequence[Mapping[str, object]],
    ) -> OnlineRows: ...


class ScoringRecorder(Protocol):
    """Where a batch scoring job is recorded as a run, with its lineage."""

    def start(self, model: str, version: int, *, input_name: str, input_digest: str) -> str:
        """Open a run for the job; returns its id."""
        ...

    def finish(
        self, run_id: str, *, output_name: str, output_digest: str, rows: int, seconds: float, ok: bool
    ) -> None: ...
