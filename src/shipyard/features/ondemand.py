"""Running on-demand feature views: THE one code path offline and online.

The offline store calls :func:`apply_on_demand` on the point-in-time frame and the online reader
calls it on the rows it fetched, so a model sees the same numbers in training and in serving.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from shipyard.errors import InvalidInput
from shipyard.features.model import (
    FeatureView,
    Field,
    OnDemandFeatureView,
    OnDemandFunction,
    RequestSource,
    function_source_digest,
)

if TYPE_CHECKING:
    from shipyard.features.selection import OnDemandSelection


def input_columns(view: OnDemandFeatureView) -> tuple[tuple[str, Field], ...]:
    """``(source name, field)`` for every input the function receives, in order: each input
    view's features, then each request source's fields."""
    pairs: list[tuple[str, Field]] = []
    for source in view.sources:
        if isinstance(source, FeatureView):
            pairs.extend((source.name, f) for f in source.features)
        else:
            pairs.extend((source.name, f) for f in source.schema)
    return tuple(pairs)


def request_fields(view: OnDemandFeatureView) -> tuple[str, ...]:
    return tuple(f.name for s in view.sources if isinstance(s, RequestSource) for f in s.schema)


def load_function(view: OnDemandFeatureView) -> OnDemandFunction:
    """The view's function: the one it was built with, else imported from ``function_ref`` and
    refused when its source no longer matches ``function_digest`` (it changed since ``apply``)."""
    if view.function is not None:
        return view.function
    module_name, _, qualname = view.function_ref.partition(":")
    try:
        target: object = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError, ValueError) as exc:
        raise InvalidInput(
            f"on-demand feature view {view.name!r}: cannot import its function {view.function_ref!r}: {exc}",
            field="function",
        ) from None
    if not callable(target):
        raise InvalidInput(
            f"on-demand feature view {view.name!r}: {view.function_ref!r} is not callable", field="function"
        )
    if function_source_digest(target) != view.function_digest:
        raise InvalidInput(
            f"on-demand feature view {view.name!r}: the code of {view.function_ref!r} changed since it was "
            "applied; apply the definitions again",
            field="function",
        )
    return target  # type: ignore[return-value,unused-ignore]


def _inputs(view: OnDemandFeatureView, frame: pd.DataFrame) -> pd.DataFrame:
    # Inputs are looked up by plain name, then by "view__feature" (full feature names), and
    # handed over as pd.ArrowDtype of their declared types, so the function sees the same dtypes
    # offline and online whatever the caller's frame held.
    columns: dict[str, pd.Series] = {}
    missing: list[str] = []
    for source, field in input_columns(view):
        name = field.name
        if name in columns:
            continue
        if name in frame.columns:
            values = frame[name]
        elif f"{source}__{name}" in frame.columns:
            values = frame[f"{source}__{name}"]
        else:
            missing.append(name)
            continue
        array = _cast(view.name, name, values, field.dtype.arrow(), what="input")
        columns[name] = pd.Series(pd.arrays.ArrowExtensionArray(array), index=frame.index, name=name)
    if missing:
        raise InvalidInput(
            f"on-demand feature view {view.name!r} needs input column(s) {', '.join(sorted(missing))}, "
            "which the request does not provide",
            field=missing[0],
        )
    return pd.DataFrame(columns, index=frame.index)


def _cast(
    view_name: str, name: str, values: object, target: pa.DataType, *, what: str = "feature"
) -> pa.Array:
    try:
        array = (
            values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, from_pandas=True)
        )
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if pa.types.is_timestamp(target) and pa.types.is_timestamp(array.type) and array.type.tz is None:
            array = array.cast(pa.timestamp(array.type.unit, tz="UTC"))
        return array.cast(target)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError) as exc:
        raise InvalidInput(
            f"on-demand feature view {view_name!r}: {what} {name!r} cannot be cast to {target}: {exc}",
            field=name,
        ) from None


def apply_on_demand(selection: OnDemandSelection, frame: pd.DataFrame) -> pd.DataFrame:
    """Run the view's function over ``frame`` (its input features + request fields, by plain or
    ``view__feature`` name) and return the selected features, one row per input row, same index.

    Columns are ``pd.ArrowDtype`` of the declared types, so integers and nulls survive unchanged.
    Any failure (missing input, the function raising, a missing or uncastable output column, a
    wrong row count) is an :class:`~shipyard.errors.InvalidInput` naming the view.
    """
    view = selection.view
    function = load_function(view)
    inputs = _inputs(view, frame)
    try:
        result = function(inputs.copy())
    except InvalidInput:
        raise
    except Exception as exc:
        raise InvalidInput(
            f"on-demand feature view {view.name!r}: its function raised {type(exc).__name__}: {exc}",
            field="function",
        ) from None
    if isinstance(result, pd.Series) and len(view.features) == 1:
        result = result.to_frame(view.features[0].name)
    if not isinstance(result, pd.DataFrame):
        raise InvalidInput(
            f"on-demand feature view {view.name!r}: its function must return a DataFrame, got {type(result).__name__}",
            field="function",
        )
    if len(result) != len(frame):
        raise InvalidInput(
            f"on-demand feature view {view.name!r}: its function returned {len(result)} rows for {len(frame)} input rows",
            field="function",
        )
    declared = {f.name: f.dtype for f in view.features}
    out: dict[str, pd.Series] = {}
    for name in selection.features:
        if name not in declared:
            raise InvalidInput(f"on-demand feature view {view.name!r} has no feature {name!r}", field=name)
        if name not in result.columns:
            raise InvalidInput(
                f"on-demand feature view {view.name!r}: its function did not return the feature {name!r}",
                field=name,
            )
        target = declared[name].arrow()
        array = _cast(view.name, name, result[name], target)
        out[name] = pd.Series(pd.arrays.ArrowExtensionArray(array), index=frame.index, name=name)
    return pd.DataFrame(out, index=frame.index)
