"""Model flavors by name: the plugins of :data:`FLAVORS` (the built-in flavors plus the
``shipyard.model_flavors`` entry point group)."""

from __future__ import annotations

from shipyard.core.plugins import PluginGroup
from shipyard.errors import InvalidInput
from shipyard.packaging.flavors.base import ModelFlavor, Payload, Predictor

FLAVORS = PluginGroup(
    "model_flavors",
    builtins={
        "onnx": "shipyard.packaging.flavors.onnx:OnnxFlavor",
        "xgboost": "shipyard.packaging.flavors.xgboost:XGBoostFlavor",
        "lightgbm": "shipyard.packaging.flavors.lightgbm:LightGBMFlavor",
        "sklearn": "shipyard.packaging.flavors.sklearn:SklearnFlavor",
        "pyfunc": "shipyard.packaging.flavors.pyfunc:PyfuncFlavor",
    },
    noun="model flavor",
    error=InvalidInput,
    field="flavor",
)


def names() -> list[str]:
    return FLAVORS.names()


def get(name: str) -> ModelFlavor:
    """The flavor registered as ``name``; InvalidInput naming the known ones otherwise."""
    factory = FLAVORS.load(name)
    flavor: ModelFlavor = factory() if isinstance(factory, type) else factory  # type: ignore[assignment]
    return flavor


def detect(model: object) -> ModelFlavor:
    """The first flavor (by priority) that can save ``model``."""
    for flavor in sorted((get(n) for n in names()), key=lambda f: (f.priority, f.name)):
        if flavor.matches(model):
            return flavor
    raise InvalidInput(
        f"cannot package a {type(model).__module__}.{type(model).__qualname__}: it is not a "
        "scikit-learn, XGBoost, LightGBM or ONNX model and has no predict(DataFrame) method",
        field="model",
    )


__all__ = ["FLAVORS", "ModelFlavor", "Payload", "Predictor", "detect", "get", "names"]
