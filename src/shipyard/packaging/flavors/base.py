"""The flavor port: how one kind of model is written to bytes, read back and asked for predictions.

A flavor is found by name in the ``shipyard.model_flavors`` entry-point group (see
:mod:`shipyard.packaging.flavors`). ``save`` returns the payload as named entries (stored under
``model/`` in the package zip); ``load`` gets those entries back, already verified against the
package digest, and must refuse formats that can run code on load unless ``trust_pickle`` is set
(:func:`shipyard.packaging.trust.refuse_untrusted`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Payload:
    """What a flavor wrote: its format name, the files (name -> bytes) and the library versions
    the model was saved with."""

    format: str
    entries: Mapping[str, bytes]
    library_versions: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Predictor(Protocol):
    """A loaded model, asked for predictions on a frame already checked against its signature."""

    @property
    def raw(self) -> object:
        """The library's own model object (estimator, Booster, InferenceSession, ...)."""
        ...

    def predict(self, frame: pd.DataFrame) -> np.ndarray: ...

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Class probabilities (rows x classes), or None if the model has none."""
        ...


class ModelFlavor(Protocol):
    #: Registered name, stored in the manifest (``sklearn``, ``xgboost``, ...).
    name: str
    #: Detection order: lower is tried first (wrappers of sklearn before sklearn, pyfunc last).
    priority: int

    def matches(self, model: object) -> bool:
        """Whether this flavor can save ``model``; must not import heavy libraries to decide."""
        ...

    def save(self, model: object) -> Payload: ...

    def load(self, format: str, entries: Mapping[str, bytes], *, trust_pickle: bool) -> Predictor: ...


def from_library(model: object, *roots: str) -> bool:
    """Whether ``model``'s class, or a class it derives from, is defined in one of the top-level
    packages ``roots`` (decided without importing them)."""
    return any(cls.__module__.split(".", 1)[0] in roots for cls in type(model).__mro__)


def as_array(result: object) -> np.ndarray:
    """A model's output as a numpy array (DataFrames and Series included)."""
    array: np.ndarray = (
        result.to_numpy() if isinstance(result, (pd.DataFrame, pd.Series)) else np.asarray(result)
    )
    return array


def version_of(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"
