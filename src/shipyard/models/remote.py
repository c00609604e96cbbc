"""Reading the registry of a Shipyard server (remote mode): resolve a reference over
``/api/v1/models`` and download the package by digest, verified, so a serving process can load
``churn@champion`` from a server it holds a token for."""

from __future__ import annotations

import hashlib
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from shipyard.client import wire
from shipyard.client.client import Client
from shipyard.errors import BackendUnavailable, CorruptArtifact
from shipyard.registry.entities import ModelVersion, Stage, TrainingData
from shipyard.registry.packaging import LoadedModel, load_model
from shipyard.registry.refs import parse_ref


def get(client: Client, ref: str) -> ModelVersion:
    parsed = parse_ref(ref)
    name = quote(parsed.name, safe="")
    tail = (
        f"versions/{parsed.version}"
        if parsed.version is not None
        else f"aliases/{quote(parsed.alias or '', safe='')}"
    )
    url = f"{client.settings.url}/api/v1/models/{name}/{tail}"
    token = client.settings.token.get_secret_value() if client.settings.token else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(url, headers=headers, timeout=30.0)
    except httpx.TransportError as exc:
        raise BackendUnavailable(
            f"cannot reach the Shipyard server at {client.settings.url}: {exc}"
        ) from None
    if response.status_code >= 400:
        try:
            body: object = response.json()
        except ValueError:
            body = None
        raise wire.error(response.status_code, body, f"GET {url}")
    return _version(response.json())


def load(client: Client, ref: str) -> LoadedModel:
    version = get(client, ref)
    with tempfile.TemporaryDirectory(prefix="shipyard-model-") as folder:
        path = client.tracking.download_blob(version.artifact_digest, Path(folder) / "package")
        data = path.read_bytes()
    # download_blob verifies too; checking here keeps the guarantee local to what is loaded.
    if "sha256:" + hashlib.sha256(data).hexdigest() != version.artifact_digest:
        raise CorruptArtifact(
            f"the package of {version.ref} does not match its digest {version.artifact_digest}"
        )
    return load_model(data, trust_pickle=client.settings.trust_pickle)


def _version(d: dict[str, Any]) -> ModelVersion:
    t = d.get("training_data")
    return ModelVersion(
        model=d["model"],
        version=d["version"],
        stage=Stage(d["stage"]),
        run_id=d["run_id"],
        artifact_path=d["artifact_path"],
        artifact_digest=d["artifact_digest"],
        flavor=d["flavor"],
        created_by=d["created_by"],
        created_at=datetime.fromisoformat(d["created_at"]),
        updated_at=datetime.fromisoformat(d["updated_at"]),
        description=d["description"],
        limitations=d["limitations"],
        signature=d["signature"],
        input_example=tuple(d["input_example"]),
        training_data=None
        if t is None
        else TrainingData(t["name"], t["digest"], t["location"], t["num_rows"]),
        feature_service=d["feature_service"],
        code_version=d["code_version"],
        metrics={k: v for k, v in d["metrics"].items() if v is not None},
        params=d["params"],
        tags=d["tags"],
        aliases=tuple(d["aliases"]),
    )
