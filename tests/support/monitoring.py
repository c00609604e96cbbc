"""A deployed churn model and traffic for the monitoring tests: real registry versions, a real
deployment, and inference-log partitions written by the serving domain's own writer from the
model's real predictions (what ``shipyard serve`` writes, without a server in between)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from shipyard.app import App
from shipyard.serving.inference_log import Entry, InferenceLog
from support.registry_models import FEATURES, LABEL, churn_data
from support.serving import make_registry

HOUR = 3_600_000
#: A fixed hour for traffic (2026-03-01 00:00 UTC), so windows are reproducible.
T0 = 1_772_323_200_000


@dataclass
class Deployed:
    app: App
    deployment: str
    v1: int
    v2: int
    reference: Path  # the training frame as Parquet (features and label)


def deploy_churn(app: App, tmp: Path, name: str = "churn-live") -> Deployed:
    registry = make_registry(app, tmp)
    app.deployments.deploy(name, "churn@champion", actor="dana")
    train_frame, _ = churn_data()
    reference = tmp / "reference.parquet"
    train_frame.to_parquet(reference)
    return Deployed(app, name, registry.v1, registry.v2, reference)


def drifted(frame: pd.DataFrame, strength: float = 1.0) -> pd.DataFrame:
    """The same customers after a shift: longer tenure, higher charges, more support calls, and
    most moved to yearly contracts."""
    out = frame.copy()
    out["tenure_months"] = (
        (out["tenure_months"] * (1 + 2 * strength)).round().astype(out["tenure_months"].dtype)
    )
    out["monthly_charges"] = out["monthly_charges"] * (1 + 0.8 * strength)
    out["support_calls"] = out["support_calls"] + int(3 * strength)
    rng = np.random.default_rng(3)
    moved = rng.random(len(out)) < 0.7 * strength
    out.loc[moved, "contract"] = "two-year"
    return out


def traffic(
    deployed: Deployed,
    frame: pd.DataFrame,
    *,
    start: int,
    seconds: float = 1800,
    version: int | None = None,
    request_ids: list[str] | None = None,
) -> list[str]:
    """Log one request per row of ``frame``, spread evenly over ``seconds`` from ``start``, with the
    version's real predictions; returns the request ids."""
    version = version or deployed.v1
    model = deployed.app.registry.load(f"churn/{version}")
    predictions = model.predict(frame[FEATURES])
    ids = request_ids or [uuid.uuid4().hex for _ in range(len(frame))]
    step = seconds * 1000 / max(len(frame), 1)
    entries = []
    for i, (record, prediction) in enumerate(
        zip(frame[FEATURES].to_dict("records"), predictions, strict=True)
    ):
        inputs = {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()}
        entries.append(
            Entry(
                request_id=ids[i], time_ms=int(start + i * step), deployment=deployed.deployment, model="churn",
                version=version, role="primary", latency_ms=2.0 + (i % 7), inputs={k: [v] for k, v in inputs.items()},
                features=None, outputs=[prediction.item() if hasattr(prediction, "item") else prediction],
            )
        )  # fmt: skip
    log = InferenceLog(deployed.app.content.store, spill_dir=deployed.app.settings.home / "spill")
    log.flush(entries)
    assert log.stats["written"] == len(entries), log.stats
    return ids


def labels_for(ids: list[str], frame: pd.DataFrame) -> list[dict[str, object]]:
    return [{"request_id": i, "label": int(y)} for i, y in zip(ids, frame[LABEL], strict=True)]
