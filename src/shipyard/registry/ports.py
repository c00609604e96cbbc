"""What the registry needs from outside its domain, as small protocols. The composition root
(:mod:`shipyard.app`) wires the tracking service in; tests may pass anything with these methods."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from shipyard.registry.entities import TrainingData

#: Run tag naming the feature service a model was trained from.
FEATURE_SERVICE_TAG = "shipyard.feature_service"
#: Run tag a pipeline sets once its data validation step passed.
VALIDATION_TAG = "shipyard.validation"


@dataclass(frozen=True)
class RunFacts:
    """What a version snapshots from its run when it is registered."""

    run_id: str
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)  # latest value per key
    tags: Mapping[str, str] = field(default_factory=dict)
    git_commit: str | None = None
    training_data: TrainingData | None = None  # the input dataset with context "training"


class RunLookup(Protocol):
    def run_facts(self, run_id: str) -> RunFacts:
        """The run's facts; :class:`~shipyard.errors.NotFound` (field ``run_id``) if it does not exist."""
        ...

    def artifact_digest(self, run_id: str, path: str) -> str:
        """The digest of the run's artifact ``path``; NotFound (field ``artifact_path``) if missing."""
        ...
