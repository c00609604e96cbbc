"""Any Python object with ``predict(DataFrame) -> DataFrame | array``, stored with cloudpickle
(plain pickle when cloudpickle is not installed). Loading runs code, so it needs ``trust_pickle``."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.packaging.flavors.base import Payload, Predictor, as_array, version_of
from shipyard.packaging.trust import refuse_untrusted

ENTRY = "model.pkl"
FORMATS = ("cloudpickle", "pickle")


@dataclass(frozen=True)
class PyfuncPredictor:
    raw: object

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return as_array(self.raw.predict(frame))  # type: ignore[attr-defined]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        method = getattr(self.raw, "predict_proba", None)
        return None if not callable(method) else as_array(method(frame))


class PyfuncFlavor:
    name = "pyfunc"
    priority = 100

    def matches(self, model: object) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: object) -> Payload:
        try:
            import cloudpickle
        except ImportError:
            return Payload(format="pickle", entries={ENTRY: _dumps(pickle.dumps, model)})
        return Payload(
            format="cloudpickle",
            entries={ENTRY: _dumps(cloudpickle.dumps, model)},
            library_versions={"cloudpickle": version_of("cloudpickle")},
        )

    def load(self, format: str, entries: Mapping[str, bytes], *, trust_pickle: bool) -> Predictor:
        if format not in FORMATS or ENTRY not in entries:
            raise InvalidInput(
                f"pyfunc packages hold {ENTRY} as {' or '.join(FORMATS)}, not {format!r}", field="format"
            )
        if not trust_pickle:
            raise refuse_untrusted(format, "it is a pickled Python object")
        if format == "cloudpickle":
            import cloudpickle  # noqa: F401  (registers what cloudpickled functions need)
        return PyfuncPredictor(pickle.loads(entries[ENTRY]))


def _dumps(dumps: object, model: object) -> bytes:
    try:
        data: bytes = dumps(model)  # type: ignore[operator]
    except Exception as exc:  # pickling errors come as TypeError, PicklingError, AttributeError...
        raise InvalidInput(
            f"the model cannot be pickled: {type(exc).__name__}: {exc}", field="model"
        ) from exc
    return data
