"""The model registry for notebooks and scripts, over the default client (embedded mode)::

    import shipyard.models

    version = shipyard.models.register("churn", run.id)       # from the run's "model" artifact
    model = shipyard.models.load("churn@champion")             # or "churn/3", "churn@production"
    model.predict(frame)

References are parsed in one place (:mod:`shipyard.registry.refs`). Loading verifies the package's
bytes against the digest recorded at registration and refuses pickle-based payloads unless the
``trust_pickle`` setting is on. Everything also works against a server (``SHIPYARD_URL``), acting
as the token's user (see :mod:`shipyard.client.remote_registry`).
Pass ``client=`` to use another client than the default one.
"""

from __future__ import annotations

from collections.abc import Mapping

from shipyard.client.client import Client
from shipyard.client.fluent import get_client
from shipyard.packaging.package import LoadedModel
from shipyard.registry.entities import GatePolicy, GateReport, ModelVersion, RegisteredModel, Stage
from shipyard.registry.refs import ModelRef, parse_ref

__all__ = [
    "GatePolicy",
    "GateReport",
    "LoadedModel",
    "ModelRef",
    "ModelVersion",
    "RegisteredModel",
    "Stage",
    "get",
    "list_models",
    "load",
    "parse_ref",
    "register",
    "transition",
]


def load(ref: str, *, client: Client | None = None) -> LoadedModel:
    """The model ``ref`` names (``churn/3``, ``churn@champion``, ``churn@production``), verified.
    Works in embedded and remote mode."""
    client = client or get_client()
    return client.registry.load(ref)


def get(ref: str, *, client: Client | None = None) -> ModelVersion:
    """The registered version ``ref`` names (metadata only). Works in embedded and remote mode."""
    client = client or get_client()
    return client.registry.resolve(ref)


def register(
    name: str,
    run_id: str,
    artifact_path: str = "model",
    *,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    client: Client | None = None,
) -> ModelVersion:
    """Register the run's packaged model as the next version of ``name`` (acting as the client's user)."""
    client = client or get_client()
    return client.registry.create_version(
        name, run_id, artifact_path, description=description, tags=tags, actor=client.user
    )


def transition(
    ref: str, stage: Stage | str, *, comment: str = "", client: Client | None = None
) -> ModelVersion:
    """Move the version ``ref`` names (``churn/3``) to ``stage``."""
    client = client or get_client()
    version = client.registry.resolve(ref)
    return client.registry.transition(
        version.model, version.version, stage, actor=client.user, comment=comment
    )


def list_models(*, client: Client | None = None) -> list[RegisteredModel]:
    return (client or get_client()).registry.list_models()
