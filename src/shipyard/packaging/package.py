"""Model packages: one zip file holding a model, its signature and how to load it safely.

Layout::

    shipyard-model.json     the manifest (flavor, format, signature, input example, versions)
    model/...               the flavor's payload (skops file, XGBoost UBJ, LightGBM text, ONNX, ...)

Zip entries carry a fixed timestamp and are written in sorted order, and the flavors write
deterministic payloads (skops files are renumbered, see ``flavors.sklearn.canonical_skops``), so
one model saved twice with the same ``created_at_ms`` gives the same bytes, hence the same digest.
Pickled (pyfunc) models and sparse arrays inside skops files may still differ.

Loading takes bytes the caller has verified against their digest (:func:`load_verified` does both)
and refuses payloads that can run code when loaded unless ``trust_pickle`` is set (see
:mod:`shipyard.packaging.trust`).
"""

from __future__ import annotations

import io
import json
import platform
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from shipyard.core.clock import now_ms
from shipyard.errors import CorruptArtifact, InvalidInput, ShipyardError
from shipyard.packaging import flavors
from shipyard.packaging.flavors.base import Predictor, as_array, version_of
from shipyard.packaging.signature import Signature, infer_signature
from shipyard.storage.artifacts.content import ContentStore, write_atomically

MANIFEST_NAME = "shipyard-model.json"
PAYLOAD_PREFIX = "model/"
FORMAT_VERSION = 1
EXAMPLE_ROWS = 5
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class PackageManifest:
    flavor: str
    format: str  # "skops", "pickle", "cloudpickle", "xgboost-ubj", "lightgbm-txt", "onnx"
    signature: Signature
    input_example: list[dict[str, object]]  # a few rows, JSON-safe
    library_versions: dict[str, str]
    python_version: str
    created_at_ms: int

    def to_dict(self) -> dict[str, object]:
        return {
            "format_version": FORMAT_VERSION,
            "flavor": self.flavor,
            "format": self.format,
            "signature": self.signature.to_dict(),
            "input_example": self.input_example,
            "library_versions": dict(sorted(self.library_versions.items())),
            "python_version": self.python_version,
            "created_at_ms": self.created_at_ms,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> PackageManifest:
        if not isinstance(d, Mapping):
            raise InvalidInput("model manifest must be a JSON object", field="manifest")
        version = d.get("format_version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise InvalidInput(
                f"model package format_version {version!r} is newer than this Shipyard reads "
                f"({FORMAT_VERSION}); upgrade Shipyard",
                field="manifest.format_version",
            )
        signature = d.get("signature")
        example = d.get("input_example")
        versions = d.get("library_versions")
        created = d.get("created_at_ms")
        if not isinstance(signature, Mapping):
            raise InvalidInput("manifest.signature must be an object", field="manifest.signature")
        if not isinstance(example, list) or not all(isinstance(row, dict) for row in example):
            raise InvalidInput(
                "manifest.input_example must be a list of objects", field="manifest.input_example"
            )
        if not isinstance(versions, Mapping):
            raise InvalidInput(
                "manifest.library_versions must be an object", field="manifest.library_versions"
            )
        if not isinstance(created, int) or isinstance(created, bool):
            raise InvalidInput("manifest.created_at_ms must be an integer", field="manifest.created_at_ms")
        return cls(
            flavor=_text(d, "flavor"),
            format=_text(d, "format"),
            signature=Signature.from_dict(signature),
            input_example=example,
            library_versions={str(k): str(v) for k, v in versions.items()},
            python_version=_text(d, "python_version"),
            created_at_ms=created,
        )

    def example_frame(self) -> pd.DataFrame:
        """The input example as a DataFrame conforming to the signature."""
        frame = pd.DataFrame.from_records(self.input_example, columns=self.signature.input_names)
        return self.signature.check(frame)


@dataclass
class LoadedModel:
    """A model read from a package, ready to predict. ``raw`` is the library's own object."""

    manifest: PackageManifest
    raw: object
    predictor: Predictor = field(repr=False)

    @property
    def signature(self) -> Signature:
        return self.manifest.signature

    @property
    def flavor(self) -> str:
        return self.manifest.flavor

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predictions for ``frame``, checked against the signature first (InvalidInput naming
        a missing or mistyped column)."""
        checked = self.signature.check(frame)
        with _scoring_errors():
            return as_array(self.predictor.predict(checked))

    def predict_conformed(self, frame: pd.DataFrame) -> np.ndarray:
        """Predictions for a frame that already holds exactly the signature's columns, in its
        order and types (a caller that checked every value itself, as the prediction server
        does): :meth:`predict` without rebuilding the frame."""
        with _scoring_errors():
            return as_array(self.predictor.predict(frame))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Class probabilities (rows x classes), or None if the model gives none."""
        checked = self.signature.check(frame)
        with _scoring_errors():
            result = self.predictor.predict_proba(checked)
        return None if result is None else as_array(result)


def build_package(
    model: object,
    *,
    input_example: pd.DataFrame,
    flavor: str | None = None,
    created_at_ms: int | None = None,
) -> tuple[bytes, PackageManifest]:
    """The package bytes of ``model`` and their manifest (what :func:`save_model` writes)."""
    if not isinstance(input_example, pd.DataFrame):
        raise InvalidInput(
            f"input_example must be a pandas DataFrame of a few training rows, got {type(input_example).__name__}",
            field="input_example",
        )
    if input_example.empty:
        raise InvalidInput("input_example must have at least one row and one column", field="input_example")
    chosen = flavors.detect(model) if flavor is None else flavors.get(flavor)
    if flavor is not None and not chosen.matches(model):
        raise InvalidInput(
            f"flavor {flavor!r} cannot save a {type(model).__module__}.{type(model).__qualname__}",
            field="flavor",
        )
    try:
        payload = chosen.save(model)
    except ShipyardError:
        raise
    except Exception as exc:  # libraries refuse unfitted models with their own exception types
        raise InvalidInput(
            f"the {chosen.name!r} flavor cannot save this model (is it fitted?): {type(exc).__name__}: {exc}",
            field="model",
        ) from exc
    example = input_example.head(EXAMPLE_ROWS)
    # Predict through the saved payload, not the live object: it proves the package loads and
    # records the outputs a loaded model really returns.
    try:
        predictor = chosen.load(payload.format, payload.entries, trust_pickle=True)
    except ShipyardError:
        raise
    except Exception as exc:  # e.g. skops cannot find a lambda again by its name
        hint = "" if chosen.name == "pyfunc" else "; flavor='pyfunc' stores it with cloudpickle instead"
        raise InvalidInput(
            f"the model cannot be loaded back from the {chosen.name!r} flavor's {payload.format} "
            f"payload: {type(exc).__name__}: {exc}{hint}",
            field="model",
        ) from exc
    try:
        outputs = as_array(predictor.predict(example))
    except Exception as exc:  # any library error: the model cannot score its own example
        raise InvalidInput(
            f"the model failed to predict on input_example: {type(exc).__name__}: {exc}",
            field="input_example",
        ) from exc
    versions = {"numpy": version_of("numpy"), "pandas": version_of("pandas"), **payload.library_versions}
    manifest = PackageManifest(
        flavor=chosen.name,
        format=payload.format,
        signature=infer_signature(example, outputs),
        input_example=json.loads(example.to_json(orient="records", date_format="iso", date_unit="ms")),
        library_versions=versions,
        python_version=platform.python_version(),
        created_at_ms=now_ms() if created_at_ms is None else created_at_ms,
    )
    entries = {MANIFEST_NAME: json.dumps(manifest.to_dict(), indent=2, sort_keys=True).encode()}
    entries.update({PAYLOAD_PREFIX + name: data for name, data in payload.entries.items()})
    return _zip(entries), manifest


def save_model(
    model: object,
    path: Path,
    *,
    input_example: pd.DataFrame,
    flavor: str | None = None,
    created_at_ms: int | None = None,
) -> PackageManifest:
    """Write ONE file (a zip: manifest + model payload) at ``path``, atomically. ``flavor`` None
    detects it from the model's type."""
    data, manifest = build_package(
        model, input_example=input_example, flavor=flavor, created_at_ms=created_at_ms
    )
    write_atomically([data], Path(path))
    return manifest


def read_manifest(data: bytes) -> PackageManifest:
    with _open(data) as archive:
        return _manifest(archive)


def load_model(data: bytes, *, trust_pickle: bool) -> LoadedModel:
    """Load package bytes the caller has verified against their digest (``ContentStore.read_bytes``
    verifies). Pickle-based payloads are refused with PermissionDenied unless ``trust_pickle``."""
    with _open(data) as archive:
        manifest = _manifest(archive)
        entries = {
            name.removeprefix(PAYLOAD_PREFIX): archive.read(name)
            for name in archive.namelist()
            if name.startswith(PAYLOAD_PREFIX) and not name.endswith("/")
        }
    predictor = flavors.get(manifest.flavor).load(manifest.format, entries, trust_pickle=trust_pickle)
    return LoadedModel(manifest=manifest, raw=predictor.raw, predictor=predictor)


def load_verified(content: ContentStore, digest: str, *, trust_pickle: bool) -> LoadedModel:
    """Read the package stored under ``digest``, verify it, then load it; CorruptArtifact (nothing
    loaded) when the stored bytes do not match the digest."""
    try:
        data = content.read_bytes(digest)
    except CorruptArtifact as exc:
        raise CorruptArtifact(f"refusing to load model package: {exc.message}", field="digest") from None
    return load_model(data, trust_pickle=trust_pickle)


def payload_entries(data: bytes) -> dict[str, bytes]:
    """The payload files of a package (name -> bytes), e.g. ``{"model.onnx": ...}``."""
    with _open(data) as archive:
        return {
            name.removeprefix(PAYLOAD_PREFIX): archive.read(name)
            for name in archive.namelist()
            if name.startswith(PAYLOAD_PREFIX)
        }


@contextmanager
def _scoring_errors() -> Iterator[None]:
    """Libraries refuse bad values (NaN where a model cannot take it, ...) with ValueError or
    TypeError: the caller's input is at fault, so say so instead of failing with a 500."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"the model could not score the input: {exc}", field="inputs") from exc


def _zip(entries: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name])
    return buffer.getvalue()


def _open(data: bytes) -> zipfile.ZipFile:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"a model package is bytes, got {type(data).__name__}", field="package")
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InvalidInput(
            "not a Shipyard model package: the bytes are not a zip file", field="package"
        ) from None


def _manifest(archive: zipfile.ZipFile) -> PackageManifest:
    try:
        raw = archive.read(MANIFEST_NAME)
    except KeyError:
        raise InvalidInput(
            f"not a Shipyard model package: no {MANIFEST_NAME} in it", field="package"
        ) from None
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"{MANIFEST_NAME} is not valid JSON: {exc}", field="manifest") from None
    return PackageManifest.from_dict(document)


def _text(d: Mapping[str, object], key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"manifest.{key} must be a non-empty string", field=f"manifest.{key}")
    return value
