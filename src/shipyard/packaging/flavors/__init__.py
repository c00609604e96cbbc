"""Model flavors by name: the ``shipyard.model_flavors`` entry points, with the built-in flavors
available even when the package's entry points are not installed (a source checkout)."""

from __future__ import annotations

import importlib

from shipyard.core import plugins
from shipyard.errors import InvalidInput
from shipyard.packaging.flavors.base import ModelFlavor, Payload, Predictor

GROUP = "model_flavors"
BUILTIN = {
    "onnx": "shipyard.packaging.flavors.onnx:OnnxFlavor",
    "xgboost": "shipyard.packaging.flavors.xgboost:XGBoostFlavor",
    "lightgbm": "shipyard.packaging.flavors.lightgbm:LightGBMFlavor",
    "sklearn": "shipyard.packaging.flavors.sklearn:SklearnFlavor",
    "pyfunc": "shipyard.packaging.flavors.pyfunc:PyfuncFlavor",
}


def names() -> list[str]:
    return sorted(set(BUILTIN) | set(plugins.names(GROUP)))


def get(name: str) -> ModelFlavor:
    """The flavor registered as ``name``; InvalidInput naming the known ones otherwise."""
    if name in plugins.names(GROUP):
        factory = plugins.load(GROUP, name)
    elif name in BUILTIN:
        module, _, attr = BUILTIN[name].partition(":")
        factory = getattr(importlib.import_module(module), attr)
    else:
        raise InvalidInput(
            f"unknown model flavor {name!r}; known flavors: {', '.join(names())}", field="flavor"
        )
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


__all__ = ["BUILTIN", "GROUP", "ModelFlavor", "Payload", "Predictor", "detect", "get", "names"]
