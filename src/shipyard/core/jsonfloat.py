"""Non-finite floats in JSON, which has no NaN or infinity: the REST API writes them as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` and reads those back (any case, also ``"inf"``)."""

from __future__ import annotations

import math

NON_FINITE = {
    "nan": math.nan,
    "infinity": math.inf,
    "inf": math.inf,
    "+infinity": math.inf,
    "+inf": math.inf,
    "-infinity": -math.inf,
    "-inf": -math.inf,
}


def encode_float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def non_finite(text: str) -> float | None:
    """The non-finite float ``text`` names, or None if it names none."""
    return NON_FINITE.get(text.strip().lower())
