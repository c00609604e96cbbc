"""Model references, parsed in one place for the SDK, the CLI and the API:

* ``NAME/VERSION`` — one version (``churn/3``);
* ``NAME@ALIAS`` — the version an alias points at (``churn@champion``);
* ``NAME@STAGE`` for ``staging`` and ``production`` — the newest version in that stage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shipyard.errors import InvalidInput

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,249}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,99}$")


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        return f"{self.name}/{self.version}" if self.version is not None else f"{self.name}@{self.alias}"


def model_name(value: object, *, field: str = "name") -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidInput(
            f"model name must be 1-250 letters, digits, '_', '-' or '.', starting with a letter or digit; "
            f"got {value!r}",
            field=field,
        )
    return value


def alias_name(value: object, *, field: str = "alias") -> str:
    if not isinstance(value, str) or not _ALIAS.match(value):
        raise InvalidInput(
            f"alias must be 1-100 letters, digits, '_' or '-', starting with a letter; got {value!r}",
            field=field,
        )
    if value.isdigit():
        raise InvalidInput(f"alias {value!r} would read as a version number", field=field)
    return value


def version_number(value: object, *, field: str = "version") -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"version must be a positive integer, got {value!r}", field=field)
    return value


def parse_ref(text: str, *, field: str = "model") -> ModelRef:
    """``churn/3`` or ``churn@champion``; InvalidInput naming the expected forms otherwise."""
    if not isinstance(text, str):
        raise InvalidInput(f"{field} must be NAME/VERSION or NAME@ALIAS, got {text!r}", field=field)
    if "@" in text:
        name, _, alias = text.partition("@")
        return ModelRef(model_name(name, field=field), alias=alias_name(alias, field=field))
    if "/" in text:
        name, _, version = text.rpartition("/")
        if not version.isdigit():
            raise InvalidInput(
                f"{field} {text!r}: the part after '/' must be a version number (use NAME@ALIAS for aliases)",
                field=field,
            )
        return ModelRef(model_name(name, field=field), version=version_number(version, field=field))
    raise InvalidInput(
        f"{field} {text!r} names no version: write NAME/VERSION (churn/3) or NAME@ALIAS (churn@champion)",
        field=field,
    )
