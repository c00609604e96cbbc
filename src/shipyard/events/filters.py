"""The filter grammar of the event log, shared by the SDK, the CLI and the REST API.

- ``types``: exact types (``model.promoted``) or prefixes (``model.*``); an event matches any one.
- ``where``: payload ``key == value`` for every pair; values are strings, integers or booleans and
  compare as the text of the JSON scalar, so ``version=3`` (from a command line) matches ``3``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sqlalchemy import ColumnElement, String, and_, case, cast, false, func, or_, type_coerce
from sqlalchemy.dialects import postgresql

from shipyard.core.events import TYPE_MAX_LENGTH, is_event_type
from shipyard.errors import InvalidInput
from shipyard.events.tables import EventRow
from shipyard.storage.metadata.base import table

events_t = table(EventRow)

MAX_TYPES = 20
MAX_WHERE = 10
PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
VALUE_MAX_LENGTH = 500

WhereValue = str | int | bool


def check_types(types: Sequence[str]) -> list[str]:
    if isinstance(types, str):
        types = [types]
    patterns = list(types)
    if len(patterns) > MAX_TYPES:
        raise InvalidInput(f"at most {MAX_TYPES} type patterns, got {len(patterns)}", field="type")
    for pattern in patterns:
        if not isinstance(pattern, str):
            ok = False
        elif pattern.endswith(".*"):
            ok = PREFIX_PATTERN.fullmatch(pattern[:-2]) is not None
        else:
            ok = is_event_type(pattern)
        if not ok or len(pattern) > TYPE_MAX_LENGTH:
            raise InvalidInput(
                f"type must be a dotted event type (model.promoted) or a prefix (model.*), got {pattern!r}",
                field="type",
            )
    return patterns


def check_where(where: Mapping[str, object] | None) -> dict[str, str]:
    """The payload conditions as key -> text of the expected JSON scalar."""
    if where is None:
        return {}
    if not isinstance(where, Mapping):
        raise InvalidInput("where must be a mapping of payload key to value", field="where")
    if len(where) > MAX_WHERE:
        raise InvalidInput(f"at most {MAX_WHERE} where conditions, got {len(where)}", field="where")
    out: dict[str, str] = {}
    for key, value in where.items():
        if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
            raise InvalidInput(f"where key must be a payload field name, got {key!r}", field="where")
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | str):
            text = str(value)
        else:
            raise InvalidInput(
                f"where value of {key!r} must be a string, integer or boolean, got {type(value).__name__}",
                field="where",
            )
        if len(text) > VALUE_MAX_LENGTH:
            raise InvalidInput(f"where value of {key!r} is longer than {VALUE_MAX_LENGTH}", field="where")
        out[key] = text
    return out


def parse_where(items: Sequence[str]) -> dict[str, str]:
    """``key=value`` strings (CLI options, query parameters) as a where mapping."""
    where: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(f"where must be key=value, got {item!r}", field="where")
        where[key] = value
    return where


def type_condition(patterns: Sequence[str]) -> ColumnElement[bool] | None:
    if not patterns:
        return None
    exact = [p for p in patterns if not p.endswith(".*")]
    prefixes = [p[:-1] for p in patterns if p.endswith(".*")]
    conditions: list[ColumnElement[bool]] = []
    if exact:
        conditions.append(events_t.c.type.in_(exact))
    conditions += [events_t.c.type.startswith(prefix, autoescape=True) for prefix in prefixes]
    return or_(false(), *conditions)


def _scalar_text(dialect: str, key: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        column = type_coerce(events_t.c.payload, postgresql.JSON)
        text: ColumnElement[str] = column[key].astext
        return text
    path = f'$."{key}"'
    kind = func.json_type(events_t.c.payload, path)
    return case(
        (kind.in_(("true", "false")), kind),
        else_=cast(func.json_extract(events_t.c.payload, path), String),
    )


def where_condition(dialect: str, where: Mapping[str, str]) -> ColumnElement[bool] | None:
    if not where:
        return None
    return and_(*(_scalar_text(dialect, key) == value for key, value in where.items()))


__all__ = ["check_types", "check_where", "parse_where", "type_condition", "where_condition"]
