"""What a monitor prepares once, when it is created: the reference its windows are compared with.

The reference data (by default the version's training dataset) is scored by the version itself, so
prediction drift compares like with like; its feature columns and the model's score are prepared
for drift and quality (:func:`shipyard.monitoring.drift.prepare_reference`) and stored in the
content store; for a classifier with labels in the reference, the CBPE estimator is fitted on it
and stored too. Evaluations then read only these two blobs, never the training data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from shipyard.errors import InvalidInput
from shipyard.monitoring.cbpe import CBPE
from shipyard.monitoring.drift import Reference, prepare_reference
from shipyard.monitoring.model import MonitorSpec
from shipyard.monitoring.ports import Scorer, Versions
from shipyard.storage.artifacts.content import ContentStore

#: The column holding the model's score (positive-class probability, or the prediction).
SCORE = "prediction"
#: Rows of a reference scored and kept (a uniform sample beyond this).
MAX_REFERENCE_ROWS = 1_000_000


@dataclass(frozen=True)
class Baseline:
    reference_digest: str
    reference_rows: int
    source: str
    columns: tuple[str, ...]
    estimator_digest: str | None


def read_reference(location: str) -> pa.Table:
    """A Parquet or CSV file (or folder of Parquet files) named by a path or URI."""
    try:
        if location.endswith(".csv"):
            return pacsv.read_csv(location)
        return pq.read_table(location)
    except (OSError, pa.ArrowException) as exc:
        raise InvalidInput(f"cannot read the reference {location!r}: {exc}", field="reference") from None


def positive_class(classes: Sequence[object] | None, chosen: str | None) -> object | None:
    if not classes:
        return None
    if chosen is None:
        return classes[-1]
    for c in classes:
        if str(c) == chosen:
            return c
    raise InvalidInput(
        f"positive class {chosen!r} is not one of the model's classes {[str(c) for c in classes]}",
        field="positive",
    )


def scores_of(
    prediction: np.ndarray,
    proba: np.ndarray | None,
    classes: Sequence[object] | None,
    positive: object | None,
) -> np.ndarray:
    """The monitored score: the positive-class probability of a classifier, else the prediction."""
    if proba is not None and classes and positive is not None:
        return np.asarray(proba[:, list(classes).index(positive)], dtype=float)
    return np.asarray(prediction, dtype=float)


def prepare(
    spec: MonitorSpec,
    model: str,
    version: int,
    *,
    versions: Versions,
    scorer: Scorer,
    content: ContentStore,
) -> Baseline:
    if spec.reference is not None:
        table, source = read_reference(spec.reference), spec.reference
    else:
        table, source = versions.training_data(model, version)
    if table.num_rows == 0:
        raise InvalidInput(f"the reference {source} has no rows", field="reference")
    if table.num_rows > MAX_REFERENCE_ROWS:
        picks = np.sort(np.random.default_rng(0).choice(table.num_rows, MAX_REFERENCE_ROWS, replace=False))
        table = table.take(pa.array(picks))
    frame = table.to_pandas()
    inputs = scorer.inputs(model, version)
    features = tuple(spec.features) if spec.features else tuple(inputs)
    missing = [c for c in (*inputs, *features) if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"the reference {source} lacks the model's feature column(s) {', '.join(sorted(set(missing)))}",
            field="reference",
        )
    if spec.target is not None and spec.target not in frame.columns:
        raise InvalidInput(f"the reference {source} has no target column {spec.target!r}", field="target")
    prediction, proba = scorer.predict(model, version, frame[list(inputs)])
    classes = scorer.classes(model, version)
    positive = positive_class(classes, spec.positive) if spec.task == "classification" else None
    scores = scores_of(prediction, proba, classes, positive)
    prepared = frame[list(features)].copy()
    prepared[SCORE] = scores
    reference: Reference = prepare_reference(prepared)
    estimator = None
    if (
        spec.task == "classification"
        and spec.target is not None
        and proba is not None
        and positive is not None
    ):
        labels = (frame[spec.target].astype(str).to_numpy() == str(positive)).astype(int)
        if 0 < labels.sum() < len(labels):
            fitted = CBPE.fit(
                scores,
                labels,
                reference_pred=(np.asarray(prediction).astype(str) == str(positive)).astype(int),
            )
            estimator = content.put_bytes(fitted.to_bytes()).digest
    return Baseline(
        reference_digest=content.put_bytes(reference.to_bytes()).digest,
        reference_rows=len(frame),
        source=str(Path(source)) if "://" not in source else source,
        columns=features,
        estimator_digest=estimator,
    )
