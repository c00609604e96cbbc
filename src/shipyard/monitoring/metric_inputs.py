"""Checks on the arrays the performance metrics and CBPE receive.

They come from users (labels sent later, scores read back from the inference log), so every
problem becomes an :class:`~shipyard.errors.InvalidInput` naming the argument and what was wrong,
before numpy or scikit-learn would fail with something obscure or, worse, compute nonsense.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from shipyard.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def numbers(values: object, name: str, *, ndim: int = 1) -> FloatArray:
    """``values`` as a float array of ``ndim`` dimensions, at least one row, no NaN or infinity."""
    if isinstance(values, str | bytes):
        raise InvalidInput(f"{name} must be a sequence of numbers, not a string", field=name)
    try:
        raw = np.asarray(values)
    except ValueError as exc:  # ragged nested lists
        raise InvalidInput(f"{name} must be a rectangular array of numbers: {exc}", field=name) from exc
    if raw.dtype == np.bool_:
        raw = raw.astype(np.int64)
    if raw.dtype.kind not in "iuf":
        raise InvalidInput(f"{name} must hold numbers, got values of type {raw.dtype}", field=name)
    if raw.ndim != ndim:
        shape = "a 1-D sequence" if ndim == 1 else f"a {ndim}-D array"
        raise InvalidInput(f"{name} must be {shape}, got shape {raw.shape}", field=name)
    if raw.shape[0] == 0:
        raise InvalidInput(f"{name} is empty", field=name)
    array = raw.astype(np.float64)
    if not np.isfinite(array).all():
        raise InvalidInput(f"{name} contains NaN or infinite values", field=name)
    return array


def probabilities(values: object, name: str, *, ndim: int = 1) -> FloatArray:
    """Numbers that must lie in [0, 1] (a model's predicted probability of the positive class)."""
    array = numbers(values, name, ndim=ndim)
    if array.min() < 0.0 or array.max() > 1.0:
        raise InvalidInput(
            f"{name} must be probabilities in [0, 1], got values from {array.min():g} to {array.max():g}",
            field=name,
        )
    return array


def class_labels(values: object, name: str, classes: int = 2) -> IntArray:
    """Integer class labels in ``0 .. classes-1`` (0/1 for a binary model)."""
    array = numbers(values, name)
    as_int = array.astype(np.int64)
    wrong = (as_int != array) | (as_int < 0) | (as_int >= classes)
    if wrong.any():
        allowed = "0 or 1" if classes == 2 else f"integers from 0 to {classes - 1}"
        bad = array[wrong][0]
        raise InvalidInput(f"{name} must be class labels ({allowed}), got {bad:g}", field=name)
    return as_int


def same_length(arrays: Sequence[tuple[str, npt.NDArray[np.generic]]]) -> int:
    """The common number of rows, or an error naming the two arguments that disagree."""
    first_name, first = arrays[0]
    for name, array in arrays[1:]:
        if array.shape[0] != first.shape[0]:
            raise InvalidInput(
                f"{name} has {array.shape[0]} rows but {first_name} has {first.shape[0]}", field=name
            )
    return int(first.shape[0])
