"""LightGBM boosters and scikit-learn wrappers, stored as LightGBM's model text (no pickle).

A wrapper is loaded back as its Booster; the wrapper's classes are kept next to it so a classifier
still predicts labels and probabilities (a Booster alone only knows probabilities).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.packaging.flavors.base import Payload, Predictor, as_array, from_library

ENTRY = "model.txt"
META = "meta.json"


@dataclass(frozen=True)
class LightGBMPredictor:
    raw: object  # lightgbm.Booster
    classes: tuple[object, ...] | None  # labels of a classifier, None for other models

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if self.classes is None:
            return as_array(self.raw.predict(frame))  # type: ignore[attr-defined]
        proba = self._proba(frame)
        labels = np.asarray(self.classes, dtype=object if _any_str(self.classes) else None)
        chosen: np.ndarray = labels[proba.argmax(axis=1)]
        return chosen

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        return None if self.classes is None else self._proba(frame)

    def _proba(self, frame: pd.DataFrame) -> np.ndarray:
        proba = as_array(self.raw.predict(frame))  # type: ignore[attr-defined]
        if proba.ndim == 1:  # binary: probability of the second class
            proba = np.column_stack([1.0 - proba, proba])
        return proba


class LightGBMFlavor:
    name = "lightgbm"
    priority = 20

    def matches(self, model: object) -> bool:
        # getattr on the type: an unfitted wrapper's booster_ raises, but it is still LightGBM's.
        return from_library(model, "lightgbm") and callable(getattr(type(model), "predict", None))

    def save(self, model: object) -> Payload:
        import lightgbm

        if isinstance(model, lightgbm.Booster):
            booster, classes = model, None
        elif isinstance(model, lightgbm.LGBMModel):
            booster = model.booster_  # raises if the model is not fitted
            raw_classes = (
                getattr(model, "classes_", None) if isinstance(model, lightgbm.LGBMClassifier) else None
            )
            classes = None if raw_classes is None else [_plain(c) for c in raw_classes]
        else:
            raise InvalidInput(f"the lightgbm flavor cannot save {type(model).__qualname__}", field="model")
        meta = {"class": type(model).__name__, "classes": classes}
        return Payload(
            format="lightgbm-txt",
            entries={ENTRY: booster.model_to_string().encode(), META: json.dumps(meta).encode()},
            library_versions={"lightgbm": lightgbm.__version__},
        )

    def load(self, format: str, entries: Mapping[str, bytes], *, trust_pickle: bool) -> Predictor:
        import lightgbm

        if format != "lightgbm-txt" or ENTRY not in entries or META not in entries:
            raise InvalidInput(
                f"lightgbm packages hold {ENTRY} in lightgbm-txt format, not {format!r}", field="format"
            )
        meta = json.loads(entries[META])
        classes = meta.get("classes")
        booster = lightgbm.Booster(model_str=entries[ENTRY].decode())
        return LightGBMPredictor(booster, None if classes is None else tuple(classes))


def _plain(value: object) -> object:
    """A numpy scalar label as a JSON-safe Python value."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _any_str(values: tuple[object, ...]) -> bool:
    return any(isinstance(v, str) for v in values)
