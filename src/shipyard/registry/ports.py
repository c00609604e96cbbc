"""What the registry needs from outside its domain, as small protocols. The composition root
(:mod:`shipyard.app`) wires the tracking service in; tests may pass anything with these methods."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from shipyard.registry.entities import TrainingData


@dataclass(frozen=True)
class RunFacts:
    """What a version snapshots from its run when it is registered."""

    run_id: str
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)  # latest value per key
    git_commit: str | None = None
    training_data: TrainingData | None = None  # the input dataset with context "training"
    feature_service: str | None = None  # the feature service the training data was built from
    #: What vouches that the run's data passed validation (shown as the gate's detail), or None.
    validated_by: str | None = None


class RunLookup(Protocol):
    def run_facts(self, run_id: str) -> RunFacts:
        """The run's facts; :class:`~shipyard.errors.NotFound` (field ``run_id``) if it does not exist."""
        ...

    def artifact_digest(self, run_id: str, path: str) -> str:
        """The digest of the run's artifact ``path``; NotFound (field ``artifact_path``) if missing."""
        ...


@dataclass(frozen=True)
class TrainingOrigin:
    """What a feature-store training dataset was built from (shown on the model card)."""

    name: str
    version: int
    feature_views: Mapping[str, int]  # view name -> version
    sources: tuple[tuple[str, str, str | None], ...]  # (path, fingerprint, view that read it)


class TrainingOrigins(Protocol):
    def training_origin(self, digest: str) -> TrainingOrigin | None:
        """The training dataset with this digest and its origins, or None if the feature store did
        not build it."""
        ...
