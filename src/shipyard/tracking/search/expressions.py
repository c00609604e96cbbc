"""The run-search AST: what filters and orderings look at and compare; no parsing, no SQL.

The language itself is explained in :mod:`shipyard.tracking.search`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    METRIC = "metrics"
    PARAM = "params"
    TAG = "tags"
    ATTRIBUTE = "attributes"


@dataclass(frozen=True)
class Field:
    """What a predicate or ordering looks at; ``key`` is the canonical attribute name for attributes."""

    kind: Kind
    key: str

    def __str__(self) -> str:
        if self.kind is Kind.ATTRIBUTE:
            return self.key
        key = self.key if _PLAIN_KEY.fullmatch(self.key) else f"`{self.key}`"
        return f"{self.kind}.{key}"


class Op(StrEnum):
    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    LIKE = "LIKE"
    ILIKE = "ILIKE"
    NOT_LIKE = "NOT LIKE"
    NOT_ILIKE = "NOT ILIKE"


Value = int | float | str


@dataclass(frozen=True)
class Compare:
    field: Field
    op: Op
    value: Value


@dataclass(frozen=True)
class InList:
    field: Field
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    field: Field
    negated: bool = False


@dataclass(frozen=True)
class Not:
    operand: Expr


@dataclass(frozen=True)
class And:
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Expr, ...]


Expr = Compare | InList | IsNull | Not | And | Or


@dataclass(frozen=True)
class OrderKey:
    field: Field
    descending: bool = False


#: Attribute names a filter or ordering may use, with their aliases.
ATTRIBUTES: dict[str, str] = {
    "id": "id",
    "run_id": "id",
    "name": "name",
    "run_name": "name",
    "status": "status",
    "user": "user",
    "start_time": "start_time",
    "end_time": "end_time",
    "duration": "duration",
    "experiment_id": "experiment_id",
    "parent_id": "parent_id",
}
TIME_ATTRIBUTES = frozenset({"start_time", "end_time"})
NUMERIC_ATTRIBUTES = TIME_ATTRIBUTES | {"duration"}
#: Attributes a run may lack a value for (``end_time``/``duration`` while running, a top-level run's
#: ``parent_id``).
NULLABLE_ATTRIBUTES = frozenset({"end_time", "duration", "parent_id"})
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-/.]+")
ORDERING_OPS = frozenset({Op.LT, Op.LE, Op.GT, Op.GE})
PATTERN_OPS = frozenset({Op.LIKE, Op.ILIKE, Op.NOT_LIKE, Op.NOT_ILIKE})
