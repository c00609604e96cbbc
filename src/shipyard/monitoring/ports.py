"""What monitoring needs from the other domains, as small protocols that ``app.py`` wires: the
inference log and live figures from serving, versions and their training data from the registry
and tracking, and the model itself to score the reference (and the window, for CBPE)."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa


class Deployments(Protocol):
    def primary(self, deployment: str) -> tuple[str, int]:
        """The model and version serving the deployment's primary traffic (NotFound if unknown)."""
        ...


class InferenceRows(Protocol):
    """The inference log (``shipyard.serving.inference_log.SCHEMA`` columns)."""

    def read(self, deployment: str, start_ms: int, end_ms: int, *, last: int | None = None) -> pa.Table:
        """Rows with ``start_ms <= time < end_ms`` (or, with ``last``, the last ``last`` rows
        before ``end_ms``), oldest first."""
        ...


class LiveFigures(Protocol):
    def figures(self, deployment: str, start_ms: int, end_ms: int) -> dict[str, float]:
        """``requests``, ``errors``, ``error_rate``, ``latency_p99_ms`` summed over the replicas'
        windows (empty if serving reported none)."""
        ...


class Versions(Protocol):
    def check(self, model: str, version: int) -> None:
        """NotFound unless the version exists."""
        ...

    def registered_at(self, model: str, version: int) -> int:
        """Epoch ms the version was registered."""
        ...

    def training_data(self, model: str, version: int) -> tuple[pa.Table, str]:
        """The version's training dataset as recorded (its run's ``training`` input), and where it
        is; InvalidInput if none is recorded or readable."""
        ...


class Scorer(Protocol):
    def inputs(self, model: str, version: int) -> list[str]:
        """The version's input columns, from its signature."""
        ...

    def predict(self, model: str, version: int, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions and, for a classifier, class probabilities (rows x classes)."""
        ...

    def classes(self, model: str, version: int) -> list[object] | None:
        """The classifier's classes in probability-column order, or None."""
        ...
