"""Packages written before packaging became its own layer still load: same digest, same signature,
same predictions (``tests/fixtures/packages``, written by ``write_packages.py`` and never regenerated)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shipyard.packaging import Signature, load_model, load_verified, read_manifest
from shipyard.storage.artifacts.content import ContentStore
from shipyard.storage.artifacts.local import LocalArtifactStore

FIXTURES = Path(__file__).parents[1] / "fixtures" / "packages"
EXPECTED: dict[str, dict[str, object]] = json.loads((FIXTURES / "expected.json").read_text())


def test_the_fixture_holds_packages() -> None:
    assert sorted(EXPECTED) == ["churn-pipeline", "spend-linear"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_an_old_package_loads_with_its_digest_signature_and_predictions(name: str, tmp_path: Path) -> None:
    expected = EXPECTED[name]
    content = ContentStore(LocalArtifactStore(tmp_path / "artifacts"))
    blob = content.put_file(FIXTURES / f"{name}.shipyard.zip")
    assert blob.digest == expected["digest"]

    # Without trust_pickle: the stored types must still be recognised as safe.
    loaded = load_verified(content, blob.digest, trust_pickle=False)
    assert (loaded.flavor, loaded.manifest.format) == (expected["flavor"], expected["format"])
    assert loaded.signature == Signature.from_dict(expected["signature"])  # type: ignore[arg-type]
    example = loaded.manifest.example_frame()
    np.testing.assert_allclose(loaded.predict(example), np.asarray(expected["predictions"]), rtol=1e-9)
    proba = loaded.predict_proba(example)
    if expected["probabilities"] is None:
        assert proba is None
    else:
        assert proba is not None
        np.testing.assert_allclose(proba, np.asarray(expected["probabilities"]), rtol=1e-9)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_an_old_manifest_reads_the_same(name: str) -> None:
    data = (FIXTURES / f"{name}.shipyard.zip").read_bytes()
    manifest = read_manifest(data)
    assert manifest.to_dict()["signature"] == EXPECTED[name]["signature"]
    assert load_model(data, trust_pickle=False).manifest == manifest
