"""Checks on what callers log. Each error names the field and what was expected."""

from __future__ import annotations

import hashlib
import math
from array import array
from collections.abc import Mapping, Sequence
from numbers import Real

import orjson

from shipyard.errors import InvalidInput

MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
#: Steps and timestamps are stored as BIGINT.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def at_most(count: int, cap: int, what: str, setting: str) -> None:
    """Refuse one call carrying more than ``cap`` items (422 naming the setting)."""
    if count > cap:
        raise InvalidInput(f"{count} {what} in one call; at most {cap} (setting {setting})", field=what)


def points_digest(rows: Sequence[Sequence[object]]) -> str:
    """A digest of validated metric rows (NaN as None): what a batch id stands for. The keys are
    hashed as JSON, the values as doubles (so NaN, inf and -inf stay apart) and steps and
    timestamps as 64-bit integers, column by column."""
    keys, values, steps, stamps = zip(*rows, strict=True) if rows else ((), (), (), ())
    digest = hashlib.sha256(orjson.dumps(keys))
    try:
        doubles = array("d", values)
    except TypeError:  # None stands for NaN
        doubles = array("d", [math.nan if v is None else v for v in values])
    digest.update(doubles.tobytes())
    digest.update(array("q", steps).tobytes())
    digest.update(array("q", stamps).tobytes())
    return digest.hexdigest()


def key(kind: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{kind} key must be a non-empty string, got {value!r}", field=kind)
    if len(value) > MAX_KEY:
        raise InvalidInput(f"{kind} key {value[:40]!r}… is longer than {MAX_KEY} characters", field=kind)
    if any(ord(c) < 32 for c in value):
        raise InvalidInput(f"{kind} key {value!r} contains control characters", field=kind)
    return value


def params(values: Mapping[str, object]) -> dict[str, str]:
    out = {}
    for k, v in values.items():
        key("param", k)
        if v is None:
            raise InvalidInput(f"param {k!r} has no value (None)", field=f"params.{k}")
        text = v if isinstance(v, str) else str(v)
        if len(text) > MAX_PARAM_VALUE:
            raise InvalidInput(
                f"param {k!r} value is longer than {MAX_PARAM_VALUE} characters", field=f"params.{k}"
            )
        out[k] = text
    return out


def tags(values: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for k, v in values.items():
        key("tag", k)
        if not isinstance(v, str):
            raise InvalidInput(f"tag {k!r} value must be a string, got {type(v).__name__}", field=f"tags.{k}")
        if len(v) > MAX_TAG_VALUE:
            raise InvalidInput(
                f"tag {k!r} value is longer than {MAX_TAG_VALUE} characters", field=f"tags.{k}"
            )
        out[k] = v
    return out


def metric_value(name: str, value: object) -> float:
    """A metric value as float: any real number (NaN and ±inf included), never a string or bool."""
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidInput(
            f"metric {name!r} value must be a number, got {type(value).__name__} {value!r}",
            field="metrics.value",
        )
    return float(value)


def _integer(metric: str, what: str, value: object, field: str) -> int:
    if type(value) is int:
        number: int | float = value
    elif isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise InvalidInput(f"metric {metric!r} {what} must be an integer, got {value!r}", field=field)
    else:
        number = float(value)
        if not number.is_integer():
            raise InvalidInput(f"metric {metric!r} {what} must be an integer, got {value!r}", field=field)
    if not INT64_MIN <= number <= INT64_MAX:
        raise InvalidInput(
            f"metric {metric!r} {what} {value!r} is out of range (64-bit integer)", field=field
        )
    return int(number)


def metric_points(points: Sequence[Sequence[object]]) -> list[tuple[str, float, int, int]]:
    """Validate points from an untrusted caller (the server, the service's public method)."""
    out: list[tuple[str, float, int, int]] = []
    seen: set[object] = set()
    for i, point in enumerate(points):
        if len(point) != 4:
            raise InvalidInput(
                f"metric point {i} must be (key, value, step, timestamp)", field=f"metrics[{i}]"
            )
        k, v, step, ts = point
        name = k if k in seen and isinstance(k, str) else key("metric", k)
        seen.add(name)
        out.append(
            (
                name,
                metric_value(name, v),
                _integer(name, "step", step, f"metrics[{i}].step"),
                _integer(name, "timestamp (epoch ms)", ts, f"metrics[{i}].timestamp"),
            )
        )
    return out


Latest = dict[str, tuple[int, int, float]]


def metric_batch(points: Sequence[Sequence[object]]) -> tuple[Sequence[Sequence[object]], Latest]:
    """Validate a batch and find each key's latest point (highest step, then timestamp) in one
    pass. Returns rows ready to insert (NaN as None, since SQLite has no NaN) and the latest map.

    The common case (str, float, int, int tuples without NaN) costs one loop and returns the
    caller's sequence itself; anything else goes through :func:`metric_points`.
    """
    latest: Latest = {}
    has_nan = False
    try:
        for k, v, s, t in points:
            if type(v) is not float or type(s) is not int or type(t) is not int:
                raise TypeError
            if not (INT64_MIN <= s <= INT64_MAX and INT64_MIN <= t <= INT64_MAX):
                raise TypeError  # the slow path names the field
            if v != v:
                has_nan = True
            best = latest.get(k)  # type: ignore[call-overload]
            if best is None:
                key("metric", k)
            elif s < best[0] or (s == best[0] and t < best[1]):
                continue
            latest[k] = (s, t, v)  # type: ignore[index]
    except (TypeError, ValueError):
        clean = metric_points(points)
        return metric_batch(clean)
    if has_nan:
        return [(k, None if v != v else v, s, t) for k, v, s, t in points], latest
    return points, latest


def name(kind: str, value: object, *, max_length: int = 250) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{kind} name must be a non-empty string, got {value!r}", field="name")
    if len(value) > max_length:
        raise InvalidInput(f"{kind} name is longer than {max_length} characters", field="name")
    return value.strip()
