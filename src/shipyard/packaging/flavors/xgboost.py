"""XGBoost boosters and scikit-learn wrappers (XGBClassifier, ...), in XGBoost's own UBJSON format.

No pickle: the wrapper class is recorded by name (only ``xgboost.XGB*`` classes are rebuilt) and
XGBoost's ``save_model`` keeps the wrapper's own attributes (classes, objective) inside the model.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from shipyard.errors import InvalidInput
from shipyard.packaging.flavors.base import Payload, Predictor, as_array, from_library

ENTRY = "model.ubj"
META = "meta.json"
WRAPPERS = ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor")


@dataclass(frozen=True)
class XGBoostPredictor:
    raw: object

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        import xgboost

        if isinstance(self.raw, xgboost.Booster):
            return as_array(self.raw.predict(xgboost.DMatrix(frame, enable_categorical=True)))
        return as_array(self.raw.predict(frame))  # type: ignore[attr-defined]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        method = getattr(self.raw, "predict_proba", None)
        return None if method is None else as_array(method(frame))


class XGBoostFlavor:
    name = "xgboost"
    priority = 10

    def matches(self, model: object) -> bool:
        return from_library(model, "xgboost") and hasattr(model, "save_model")

    def save(self, model: object) -> Payload:
        import xgboost

        if isinstance(model, xgboost.Booster):
            kind, data = "Booster", bytes(model.save_raw(raw_format="ubj"))
        else:
            kind = type(model).__name__
            if kind not in WRAPPERS or not isinstance(model, xgboost.XGBModel):
                raise InvalidInput(
                    f"the xgboost flavor saves a Booster or one of {', '.join(WRAPPERS)}, "
                    f"not {type(model).__qualname__}",
                    field="model",
                )
            with tempfile.TemporaryDirectory(prefix="shipyard-xgb-") as folder:
                target = Path(folder) / ENTRY
                model.save_model(target)
                data = target.read_bytes()
        return Payload(
            format="xgboost-ubj",
            entries={ENTRY: data, META: json.dumps({"class": kind}).encode()},
            library_versions={"xgboost": xgboost.__version__},
        )

    def load(self, format: str, entries: Mapping[str, bytes], *, trust_pickle: bool) -> Predictor:
        import xgboost

        if format != "xgboost-ubj" or ENTRY not in entries or META not in entries:
            raise InvalidInput(
                f"xgboost packages hold {ENTRY} in xgboost-ubj format, not {format!r}", field="format"
            )
        kind = json.loads(entries[META]).get("class")
        if kind == "Booster":
            model: object = xgboost.Booster()
        elif kind in WRAPPERS:
            model = getattr(xgboost, kind)()
        else:
            raise InvalidInput(f"unknown xgboost model class {kind!r} in the package", field="format")
        model.load_model(bytearray(entries[ENTRY]))  # type: ignore[attr-defined]
        return XGBoostPredictor(model)
