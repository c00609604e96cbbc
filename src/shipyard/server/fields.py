"""The bounded types every request schema is built from, so no input reaches the database out of range.

- :class:`Input` is the base of every request body: any string in it (keys of maps too) holding a
  lone UTF-16 surrogate or a control character other than tab, newline and carriage return is
  refused with 422 naming the field.
- :data:`Line` is a one-line string (no control characters at all), :data:`Text` free text.
- :data:`Int64` and the narrower integers keep numbers inside what the database stores; a
  :data:`VersionNumber` is a path parameter of at most 2**31 - 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1

#: Characters allowed in free text besides printable ones.
_TEXT_CONTROLS = frozenset("\t\n\r")


def bad_character(text: str, *, line: bool = False) -> str | None:
    """A description of the first character ``text`` may not hold, or None."""
    for i, c in enumerate(text):
        code = ord(c)
        if 0xD800 <= code <= 0xDFFF:
            return f"a lone UTF-16 surrogate (U+{code:04X}) at position {i}"
        if (code < 32 or code == 127) and (line or c not in _TEXT_CONTROLS):
            return f"a control character (U+{code:04X}) at position {i}"
    return None


def _scan(value: Any, path: str) -> None:
    if isinstance(value, str):
        if (problem := bad_character(value)) is not None:
            raise ValueError(f"{path or 'body'} holds {problem}")
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(k, str) and (problem := bad_character(k)) is not None:
                raise ValueError(f"a key of {path or 'body'} holds {problem}")
            _scan(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _scan(v, f"{path}[{i}]")


class Input(BaseModel):
    """Base of request bodies: refuses surrogates and control characters in every string."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _no_bad_characters(cls, data: Any) -> Any:
        _scan(data, "")
        return data


def _line(value: str) -> str:
    if (problem := bad_character(value, line=True)) is not None:
        raise ValueError(f"must be one line of text, but holds {problem}")
    return value


Line = Annotated[str, AfterValidator(_line), Field(max_length=1000)]
Name = Annotated[str, AfterValidator(_line), Field(min_length=1, max_length=250)]
Text = Annotated[str, Field(max_length=100_000)]
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
NonNegative = Annotated[int, Field(ge=0, le=INT64_MAX)]
Offset = Annotated[int, Field(ge=0, le=INT32_MAX)]
Count = Annotated[int, Field(ge=1, le=INT32_MAX)]
#: Durations in seconds: at most ten years.
Seconds = Annotated[int, Field(gt=0, le=10 * 366 * 86_400)]

VersionNumber = Annotated[int, Path(ge=1, le=INT32_MAX, description="A version number.")]
OffsetQuery = Annotated[int, Query(ge=0, le=INT32_MAX)]
VersionParam = Annotated[int, Query(ge=1, le=INT32_MAX, description="A version number.")]
VersionQuery = Annotated[int | None, Query(ge=1, le=INT32_MAX, description="A version number.")]

__all__ = [
    "INT32_MAX",
    "INT64_MAX",
    "INT64_MIN",
    "Count",
    "Input",
    "Int64",
    "Line",
    "Name",
    "NonNegative",
    "Offset",
    "OffsetQuery",
    "Seconds",
    "Text",
    "VersionNumber",
    "VersionParam",
    "VersionQuery",
    "bad_character",
]
