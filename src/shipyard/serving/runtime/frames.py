"""One micro-batch's columns -> the model's predictions, building the DataFrame once per batch.

The server has already checked every value against the signature
(:func:`~shipyard.serving.runtime.payloads.check_columns`), so when every input column is numeric
or boolean the frame is built straight from numpy arrays of the signature's types and handed to
:meth:`~shipyard.packaging.package.LoadedModel.predict_conformed`: no second signature check, no
per-column casts. Its column labels are a plain object index, which models compare against the
names they were fitted with far faster than pandas' default string index. Any other signature
(strings, categories, dates), or values numpy refuses (an integer past int64), take the model's
own checked :meth:`~shipyard.packaging.package.LoadedModel.predict`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from shipyard.serving.runtime.payloads import Columns

NUMERIC = frozenset(
    {f"{s}int{b}" for s in ("", "u") for b in (8, 16, 32, 64)} | {"float16", "float32", "float64", "bool"}
)

Predict = Callable[[Columns], np.ndarray]


def batch_predictor(loaded: Any, specs: Sequence[tuple[str, str]]) -> Predict:
    """``columns -> predictions`` for ``loaded`` (a LoadedModel) whose inputs are ``specs``."""

    def checked(columns: Columns) -> np.ndarray:
        result: np.ndarray = loaded.predict(pd.DataFrame(columns))
        return result

    if not specs or not all(dtype in NUMERIC for _, dtype in specs):
        return checked
    names = [name for name, _ in specs]
    dtypes = [np.dtype(dtype) for _, dtype in specs]
    labels = pd.Index(names, dtype=object)

    def conformed(columns: Columns) -> np.ndarray:
        try:
            arrays = {n: np.asarray(columns[n], dtype=t) for n, t in zip(names, dtypes, strict=True)}
        except (TypeError, ValueError, OverflowError):  # let the signature check name the culprit
            return checked(columns)
        frame = pd.DataFrame(arrays, copy=False)
        frame.columns = labels
        result: np.ndarray = loaded.predict_conformed(frame)
        return result

    return conformed
