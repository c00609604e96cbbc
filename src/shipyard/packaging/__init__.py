"""Model packaging: flavors, signatures, safe loading, the package format and ONNX export.

A layer below the domains (beside audit): the registry stores packages, serving and the client
load them, and none of them needs the others to do so.

- :mod:`.package`: one zip file per model (manifest + payload), written atomically, loaded only
  after its digest is verified (:func:`save_model`, :func:`load_model`, :func:`load_verified`).
- :mod:`.signature`: the columns a model takes and returns, checked on every prediction.
- :mod:`.flavors`: how each kind of model is saved and loaded (``shipyard.model_flavors`` plugins).
- :mod:`.trust`: what may be loaded without ``trust_pickle``.
- :mod:`.onnx_export`: scikit-learn to ONNX, with a parity check.

The names below are imported on first use, so ``import shipyard.packaging`` loads neither NumPy
nor pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipyard.packaging.flavors.base import ModelFlavor, Payload, Predictor
    from shipyard.packaging.onnx_export import ParityReport, export_onnx
    from shipyard.packaging.package import (
        LoadedModel,
        PackageManifest,
        build_package,
        load_model,
        load_verified,
        payload_entries,
        read_manifest,
        save_model,
    )
    from shipyard.packaging.signature import ColumnSpec, Signature, infer_signature

_WHERE = {
    "LoadedModel": "package",
    "PackageManifest": "package",
    "build_package": "package",
    "load_model": "package",
    "load_verified": "package",
    "payload_entries": "package",
    "read_manifest": "package",
    "save_model": "package",
    "ColumnSpec": "signature",
    "Signature": "signature",
    "infer_signature": "signature",
    "ModelFlavor": "flavors.base",
    "Payload": "flavors.base",
    "Predictor": "flavors.base",
    "ParityReport": "onnx_export",
    "export_onnx": "onnx_export",
}


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'shipyard.packaging' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"shipyard.packaging.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ColumnSpec",
    "LoadedModel",
    "ModelFlavor",
    "PackageManifest",
    "ParityReport",
    "Payload",
    "Predictor",
    "Signature",
    "build_package",
    "export_onnx",
    "infer_signature",
    "load_model",
    "load_verified",
    "payload_entries",
    "read_manifest",
    "save_model",
]
