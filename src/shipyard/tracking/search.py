"""Run search: the filter and ordering language of ``search_runs``, and its compilation to SQL.

A filter is a boolean expression over the runs of some experiments; keywords are case-insensitive::

    metrics.auc > 0.8 and (params.optimizer = 'adam' or tags.`team name` ILIKE 'vision%')
    not status IN ('failed', 'killed') and start_time >= '2024-06-01' and duration < 3.6e6

Identifiers are ``metrics.<key>``, ``params.<key>``, ``tags.<key>``, and ``attributes.<name>`` or
a bare attribute name (see :data:`ATTRIBUTES`). Everything after the prefix's first dot is the key
(``metrics.train.loss`` is the key ``train.loss``); keys with spaces or operators are quoted with
backticks or double quotes. Values are numbers or strings in single or double quotes (``\\'`` or
``''`` escape a quote). Comparators: ``= == != <> < <= > >= LIKE ILIKE NOT LIKE NOT ILIKE IN (…)
NOT IN (…) IS NULL IS NOT NULL``; ``not`` binds tighter than ``and``, which binds tighter than ``or``.

Semantics:

* A run that lacks the key (or attribute value: ``end_time``/``duration`` while running, ``parent_id``
  of a top-level run) never satisfies a comparison, ``!=``, ``NOT LIKE`` and ``NOT IN`` included.
  ``IS NULL`` is true exactly when the run lacks it. ``not`` negates the whole predicate, so
  ``not metrics.auc > 0.8`` does include runs without ``auc``.
* Metrics test the run's latest value and compare with numbers only. NaN is stored as NULL and
  never satisfies a comparison (but the run does have the key).
* Params compare their string value with a string literal and their numeric value with a number
  literal, so ``params.lr > 0.01`` and ``params.depth = 3`` compare numerically (a param that is not
  a number never matches a numeric comparison).
* Tags and string attributes take ``= != LIKE ILIKE IN`` and their negations with strings; ordering
  comparators need numbers, because string order differs between databases.
* ``LIKE`` is case-sensitive on every backend, ``ILIKE`` is not (on SQLite it folds ASCII letters
  only); ``%`` and ``_`` are wildcards and ``\\`` makes the next character literal.
* ``start_time``/``end_time`` take epoch milliseconds or ISO-8601 strings (naive means UTC);
  ``duration`` is ``end_time - start_time`` in milliseconds. ``status`` values are case-insensitive.

Ordering items are ``<identifier> [ASC|DESC]``; runs lacking the value sort last either way. Params
sort numerically first, then as strings. Ties break by ``start_time DESC, id ASC``.

The module has two halves: :func:`parse_filter`/:func:`parse_order_by` build a small immutable AST
(no SQL), :func:`build_search` compiles it to one SQLAlchemy ``SELECT`` of run ids. Key predicates
are correlated ``EXISTS`` subqueries against the child tables, which use their ``(run_id, key)``
primary keys.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NoReturn

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from sqlalchemy import Boolean, ColumnElement, Select, String, and_, exists, false, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from shipyard.errors import InvalidInput
from shipyard.tracking.model import RunStatus
from shipyard.tracking.tables import LatestMetricRow, ParamRow, RunRow, TagRow

MAX_RESULTS_LIMIT = 50_000

# --------------------------------------------------------------------------------------------------
# AST


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
_TIME_ATTRIBUTES = frozenset({"start_time", "end_time"})
_NUMERIC_ATTRIBUTES = _TIME_ATTRIBUTES | {"duration"}
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-/.]+")
_ORDERING = frozenset({Op.LT, Op.LE, Op.GT, Op.GE})
_PATTERN_OPS = frozenset({Op.LIKE, Op.ILIKE, Op.NOT_LIKE, Op.NOT_ILIKE})

# --------------------------------------------------------------------------------------------------
# Grammar

_GRAMMAR = r"""
?filter: or_expr
?or_expr: and_expr (OR and_expr)*
?and_expr: not_expr (AND not_expr)*
?not_expr: NOT not_expr -> negation
         | "(" or_expr ")"
         | IDENT comparator (NUMBER | STRING) -> compare
         | IDENT NOT? IN "(" _values ")" -> in_list
         | IDENT IS NOT? NULL -> is_null
comparator: OP | LIKE | ILIKE | NOT LIKE | NOT ILIKE
_values: _value ("," _value)*
_value: NUMBER | STRING

order_item: IDENT IDENT?

IDENT: _WORD ("." (_BACKTICKED | _DOUBLE_QUOTED | _PLAIN_KEY)?)?
_WORD: /(?!(?i:and|or|not|like|ilike|in|is|null)\b)[A-Za-z_][A-Za-z0-9_]*/
_BACKTICKED: /`[^`]*`/
_DOUBLE_QUOTED: /"(\\.|[^"\\])*"/
_PLAIN_KEY: /[A-Za-z0-9_\-\/.]+/
NUMBER: /[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/
STRING: /'(\\.|''|[^'\\])*'/ | /"(\\.|""|[^"\\])*"/
OP: /==|!=|<>|<=|>=|=|<|>/
AND.2: /and\b/i
OR.2: /or\b/i
NOT.2: /not\b/i
LIKE.2: /like\b/i
ILIKE.2: /ilike\b/i
IN.2: /in\b/i
IS.2: /is\b/i
NULL.2: /null\b/i

%import common.WS
%ignore WS
"""


@functools.cache
def _parser() -> Lark:
    # Built on first use, not at import: building the tables takes ~15 ms.
    return Lark(_GRAMMAR, parser="lalr", start=["filter", "order_item"])


# What the parser expected, in words. Grouped so "a value" is said once for NUMBER and STRING.
_EXPECTED_WORDS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"IDENT", "NOT", "LPAR"}), "a condition such as metrics.auc > 0.8"),
    (frozenset({"IDENT"}), "a name such as metrics.auc, params.lr, tags.team or status"),
    (
        frozenset({"OP", "LIKE", "ILIKE", "IN", "IS", "NOT"}),
        "a comparison (=, !=, <, <=, >, >=, [NOT] LIKE, [NOT] ILIKE, [NOT] IN, IS [NOT] NULL)",
    ),
    (frozenset({"NUMBER", "STRING"}), "a value"),
    (frozenset({"LIKE", "ILIKE", "IN"}), "LIKE, ILIKE or IN"),
    (frozenset({"NOT", "NULL"}), "NULL or NOT NULL"),
    (frozenset({"NULL"}), "NULL"),
    (frozenset({"LPAR"}), "'('"),
    (frozenset({"AND"}), "'and'"),
    (frozenset({"OR"}), "'or'"),
    (frozenset({"COMMA"}), "','"),
    (frozenset({"RPAR"}), "')'"),
    (frozenset({"$END"}), "the end"),
    (frozenset({"<END-OF-FILE>"}), "the end"),
)


def _open_parens(tokens: list[Token]) -> int:
    return sum(t.type == "LPAR" for t in tokens) - sum(t.type == "RPAR" for t in tokens)


def _expected(names: set[str], seen: list[Token]) -> str:
    left = set(names)
    if _open_parens(seen) <= 0:
        left.discard("RPAR")  # LALR lookaheads offer ')' even when no '(' is open
    phrases = []
    for group, words in _EXPECTED_WORDS:
        if group <= left:
            phrases.append(words)
            left -= group
    phrases.extend(sorted(f"'{name.lower()}'" for name in left))
    if len(phrases) < 2:
        return "".join(phrases) or "something else"
    return ", ".join(phrases[:-1]) + " or " + phrases[-1]


def _position(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"column {column}" if line == 1 else f"line {line}, column {column}"


def _parse(text: str, start: str, what: str) -> Tree[Token]:
    """Parse ``text``; on a syntax error raise InvalidInput naming the position and what was expected."""
    interactive = _parser().parse_interactive(text, start=start)
    seen: list[Token] = []
    try:
        for token in interactive.iter_parse():
            seen.append(token)
        result: Tree[Token] = interactive.feed_eof(seen[-1] if seen else None)  # type: ignore[no-untyped-call]
        return result
    except UnexpectedToken as exc:
        failed = exc.token
        at_end = failed.type == "$END"
        # The parser rejects a token after the lexer handed it over (then it is in `seen`) or the
        # contextual lexer rejects it before (then it is not).
        if seen and not at_end and seen[-1].start_pos == failed.start_pos:
            seen.pop()
        pos = len(text.rstrip()) if at_end else (failed.start_pos or 0)
        if failed.type == "RPAR" and _open_parens(seen) <= 0:
            detail = "')' without a matching '('"
        else:
            detail = f"expected {_expected(set(exc.expected), seen)}"
            detail += f" after '{seen[-1]}'" if seen else " at the start"
            detail += ", but the text ends" if at_end else f", found '{failed}'"
    except UnexpectedCharacters as exc:
        pos = exc.pos_in_stream or 0
        char = text[pos]
        if char in "'\"`":
            detail = f"unterminated quote {char}"
        else:
            detail = f"unexpected character {char!r}"
            if seen:
                detail += f" after '{seen[-1]}'"
    except UnexpectedInput as exc:  # pragma: no cover - the LALR parser raises only the two above
        pos = getattr(exc, "pos_in_stream", 0) or 0
        detail = "syntax error"
    _fail(
        f"invalid {what} at {_position(text, pos)}: {detail}",
        field=start if start == "filter" else "order_by",
    )


def _fail(message: str, *, field: str = "filter") -> NoReturn:
    raise InvalidInput(message, field=field)


# --------------------------------------------------------------------------------------------------
# Parse tree -> AST (names, value kinds and operators are checked here, so the AST is always valid)


def _field(token: Token, where: str) -> Field:
    text = str(token)
    prefix, dot, rest = text.partition(".")
    lowered = prefix.lower()
    if not dot:
        name = ATTRIBUTES.get(lowered)
        if name is None:
            hint = f"; did you mean {lowered}.<key>?" if lowered in {k.value for k in Kind} else ""
            _fail(f"unknown attribute '{text}' in {where} (known: {', '.join(sorted(ATTRIBUTES))}){hint}")
        return Field(Kind.ATTRIBUTE, name)
    try:
        kind = Kind(lowered)
    except ValueError:
        _fail(
            f"unknown prefix '{prefix}.' in '{text}' in {where} (use metrics., params., tags. or attributes.)"
        )
    if rest[:1] == "`":
        key = rest[1:-1]
    elif rest[:1] == '"':
        key = _unquote(rest)
    else:
        key = rest
    if not key:
        _fail(f"missing key after '{prefix}.' in {where}")
    if kind is Kind.ATTRIBUTE:
        name = ATTRIBUTES.get(key.lower())
        if name is None:
            _fail(f"unknown attribute '{key}' in {where} (known: {', '.join(sorted(ATTRIBUTES))})")
        return Field(kind, name)
    return Field(kind, key)


def _unquote(literal: str) -> str:
    """Strip the quotes and undo ``\\<quote>``, ``\\\\`` and doubled quotes; other backslashes stay
    (so ``'50\\%'`` reaches LIKE as an escaped ``%``)."""
    quote, body = literal[0], literal[1:-1]
    return re.sub(r"\\([\\'\"])|" + quote * 2, lambda m: m.group(1) or quote, body)


def _value(token: Token) -> Value:
    if token.type == "STRING":
        return _unquote(str(token))
    text = str(token)
    number: Value
    if re.fullmatch(r"[+-]?\d+", text):
        number = int(text)
    else:
        number = float(text)
        if not math.isfinite(number):
            _fail(f"number {text} in filter is out of range")
    return number


def _show(value: Value) -> str:
    return f"'{value}'" if isinstance(value, str) else repr(value)


def _check_value(name: str, field: Field, op: Op | None, value: Value) -> Value:
    """Return ``value`` normalised for ``field`` (status upper-cased, times in epoch ms), or fail.

    ``op`` is None for members of an IN list."""
    is_number = isinstance(value, int | float)
    kind, key = field.kind, field.key
    if op in _PATTERN_OPS:
        if kind is Kind.METRIC or (
            kind is Kind.ATTRIBUTE and (key in _NUMERIC_ATTRIBUTES or key == "status")
        ):
            _fail(f"{name} cannot be used with {op}; use =, !=, IN{'' if key == 'status' else ', <, >'}")
        if is_number:
            _fail(f"{op} needs a string pattern, not a number ({_show(value)}), after {name}")
        assert isinstance(value, str)
        if re.search(r"(?<!\\)(\\\\)*\\$", value):
            _fail(f"the {op} pattern {_show(value)} for {name} ends with an escape character '\\'")
        return value
    if kind is Kind.METRIC or (kind is Kind.ATTRIBUTE and key == "duration"):
        if not is_number:
            numbers = (
                "metrics compare with numbers" if kind is Kind.METRIC else "it is a number of milliseconds"
            )
            _fail(f"{name} is compared with a string ({_show(value)}); {numbers}")
        return value
    if kind is Kind.ATTRIBUTE and key in _TIME_ATTRIBUTES:
        value = value if is_number else _epoch_ms(name, str(value))
    if kind is Kind.ATTRIBUTE and key in _NUMERIC_ATTRIBUTES:
        if not isinstance(value, int | float) or not abs(value) < 2**63:  # a BIGINT column
            _fail(f"{name} is compared with {_show(value)}, which is out of range")
        return value
    if kind is Kind.PARAM and is_number:
        return value
    if is_number:
        plural = "tags compare" if kind is Kind.TAG else "it compares"
        _fail(
            f"{name} is compared with a number ({_show(value)}); {plural} with strings (quote it: '{value}')"
        )
    if op in _ORDERING:
        _fail(f"{name} {op} {_show(value)}: strings cannot be ordered; compare with =, !=, LIKE, ILIKE or IN")
    assert isinstance(value, str)
    if kind is Kind.ATTRIBUTE and key == "status":
        status = value.upper()
        if status not in RunStatus.__members__:
            _fail(f"unknown status {_show(value)} in filter (valid: {', '.join(RunStatus.__members__)})")
        return status
    return value


def _epoch_ms(name: str, text: str) -> int:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        _fail(f"{name} is compared with '{text}', which is neither epoch milliseconds nor an ISO-8601 time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def _build(node: Tree[Token] | Token) -> Expr:
    assert isinstance(node, Tree)
    children = node.children
    if node.data in ("or_expr", "and_expr"):
        operands = tuple(_build(c) for c in children if not isinstance(c, Token))
        return Or(operands) if node.data == "or_expr" else And(operands)
    if node.data == "negation":
        return Not(_build(children[1]))
    tokens = [c for c in children if isinstance(c, Token)]
    name = str(tokens[0])
    field = _field(tokens[0], "filter")
    if node.data == "is_null":
        return IsNull(field, negated=len(tokens) == 4)
    if node.data == "in_list":
        negated = tokens[1].type == "NOT"
        raw = [_value(t) for t in tokens[3 if negated else 2 :]]
        values = tuple(_check_value(name, field, None, v) for v in raw)
        if len({isinstance(v, str) for v in values}) > 1:
            _fail(f"the IN list of {name} mixes numbers and strings; use one kind")
        return InList(field, values, negated)
    comparator = children[1]
    assert isinstance(comparator, Tree)
    words = " ".join(str(t).upper() for t in comparator.children)
    op = Op({"==": "=", "<>": "!="}.get(words, words))
    value = _check_value(name, field, op, _value(tokens[1]))
    return Compare(field, op, value)


def parse_filter(text: str) -> Expr | None:
    """Parse a filter string (see the module docstring); None when it is empty or blank."""
    if not text or not text.strip():
        return None
    return _build(_parse(text, "filter", "filter"))


def parse_order_by(items: Sequence[str]) -> list[OrderKey]:
    """Parse ``["metrics.auc DESC", "params.lr", ...]``; the direction defaults to ASC."""
    if isinstance(items, str):
        _fail("order_by must be a list of strings, not one string", field="order_by")
    keys = []
    for item in items:
        if not item.strip():
            _fail("empty item in order_by", field="order_by")
        tree = _parse(item, "order_item", f"order_by {item!r}")
        tokens = [t for t in tree.children if isinstance(t, Token)]
        try:
            field = _field(tokens[0], f"order_by {item!r}")
        except InvalidInput as exc:
            _fail(exc.message, field="order_by")
        direction = str(tokens[1]).upper() if len(tokens) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            _fail(
                f"unknown ordering direction '{tokens[1]}' in order_by {item!r} (use ASC or DESC)",
                field="order_by",
            )
        keys.append(OrderKey(field, descending=direction == "DESC"))
    return keys


# --------------------------------------------------------------------------------------------------
# AST -> SQL


class _CaseSensitiveLike(ColumnElement[bool]):
    """``column LIKE pattern ESCAPE '\\'`` that is case-sensitive on every backend: SQLite's LIKE
    ignores ASCII case, so there it compiles to GLOB with a translated pattern."""

    type = Boolean()
    _is_implicitly_boolean = True  # else SQLite renders "... GLOB ? = 1"
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("negated", InternalTraversal.dp_boolean),
        ("pattern", InternalTraversal.dp_clauseelement),
        ("glob_pattern", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[str], pattern: str, negated: bool) -> None:
        self.column = column
        self.negated = negated
        self.pattern = literal(pattern, String())
        self.glob_pattern = literal(_like_to_glob(pattern), String())


@compiles(_CaseSensitiveLike)
def _compile_like(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    like = element.column.not_like if element.negated else element.column.like
    return compiler.process(like(element.pattern, escape="\\"), **kw)


@compiles(_CaseSensitiveLike, "sqlite")
def _compile_like_sqlite(element: _CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    glob = "NOT GLOB" if element.negated else "GLOB"
    return f"{compiler.process(element.column, **kw)} {glob} {compiler.process(element.glob_pattern, **kw)}"


def _like_to_glob(pattern: str) -> str:
    out = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            char = next(chars, "\\")
        elif char in "%_":
            out.append("*" if char == "%" else "?")
            continue
        out.append(f"[{char}]" if char in "*?[" else char)
    return "".join(out)


def _attribute_column(name: str) -> ColumnElement[Any]:
    if name == "duration":
        return RunRow.end_time - RunRow.start_time
    column: ColumnElement[Any] = getattr(RunRow, name).expression
    return column


_NULLABLE_ATTRIBUTES = frozenset({"end_time", "duration", "parent_id"})


def _condition(column: ColumnElement[Any], op: Op, value: Value) -> ColumnElement[bool]:
    if op is Op.EQ:
        return column == value
    if op is Op.NE:
        return column != value
    if op is Op.LT:
        return column < value
    if op is Op.LE:
        return column <= value
    if op is Op.GT:
        return column > value
    if op is Op.GE:
        return column >= value
    assert isinstance(value, str)
    if op in (Op.LIKE, Op.NOT_LIKE):
        return _CaseSensitiveLike(column, value, negated=op is Op.NOT_LIKE)
    if op is Op.ILIKE:
        return column.ilike(value, escape="\\")
    return column.not_ilike(value, escape="\\")


_KeyTable = type[LatestMetricRow] | type[ParamRow] | type[TagRow]
_TABLES: dict[Kind, _KeyTable] = {Kind.METRIC: LatestMetricRow, Kind.PARAM: ParamRow, Kind.TAG: TagRow}


def _key_exists(field: Field, condition: ColumnElement[bool] | None = None) -> ColumnElement[bool]:
    """EXISTS a row of the key's table for this run and key (satisfying ``condition``)."""
    table = _TABLES[field.kind]
    criteria = [table.run_id == RunRow.id, table.key == field.key]
    if condition is not None:
        criteria.append(condition)
    return exists().where(*criteria)


def _sql_value(field: Field, value: Value) -> Value:
    # Metric and param numbers are FLOAT columns; an int bound as INTEGER could overflow on PostgreSQL.
    return float(value) if field.kind is not Kind.ATTRIBUTE and not isinstance(value, str) else value


def _value_column(field: Field, sample: Value) -> ColumnElement[Any]:
    """The child-table column a predicate on ``field`` with a value like ``sample`` compares."""
    if field.kind is Kind.METRIC:
        return LatestMetricRow.value.expression
    if field.kind is Kind.PARAM:
        return (ParamRow.value if isinstance(sample, str) else ParamRow.value_num).expression
    return TagRow.value.expression


def _compile(expr: Expr) -> ColumnElement[bool]:
    if isinstance(expr, And):
        return and_(*(_compile(e) for e in expr.operands))
    if isinstance(expr, Or):
        return or_(*(_compile(e) for e in expr.operands))
    if isinstance(expr, Not):
        return ~_compile(expr.operand)
    field = expr.field
    if isinstance(expr, IsNull):
        if field.kind is Kind.ATTRIBUTE:
            column = _attribute_column(field.key)
            return column.is_not(None) if expr.negated else column.is_(None)
        present = _key_exists(field)
        return present if expr.negated else ~present
    condition: ColumnElement[bool]
    if isinstance(expr, InList):
        column = (
            _attribute_column(field.key)
            if field.kind is Kind.ATTRIBUTE
            else _value_column(field, expr.values[0])
        )
        values = [_sql_value(field, v) for v in expr.values]
        condition = column.not_in(values) if expr.negated else column.in_(values)
    else:
        column = (
            _attribute_column(field.key) if field.kind is Kind.ATTRIBUTE else _value_column(field, expr.value)
        )
        condition = _condition(column, expr.op, _sql_value(field, expr.value))
    if field.kind is not Kind.ATTRIBUTE:
        return _key_exists(field, condition)
    if field.key in _NULLABLE_ATTRIBUTES:
        # Two-valued logic, so that `not` of a comparison includes the runs where it is NULL.
        return and_(column.is_not(None), condition)
    return condition


def _sort_values(field: Field) -> list[ColumnElement[Any]]:
    if field.kind is Kind.ATTRIBUTE:
        return [_attribute_column(field.key)]
    table = _TABLES[field.kind]
    columns = [ParamRow.value_num, ParamRow.value] if field.kind is Kind.PARAM else [table.value]
    return [
        select(column).where(table.run_id == RunRow.id, table.key == field.key).scalar_subquery()
        for column in columns
    ]


def build_search(
    experiment_ids: Sequence[str] | None, filter: str, order_by: Sequence[str], max_results: int
) -> Select[str]:
    """A ``SELECT runs.id`` of the runs in ``experiment_ids`` (None: every experiment, empty: none)
    that match ``filter``, ordered by ``order_by`` and limited to ``max_results`` (1 to 50,000).

    (``Select[str]`` is SQLAlchemy 2.1's spelling of 2.0's ``Select[tuple[str]]``.)"""
    if (
        isinstance(max_results, bool)
        or not isinstance(max_results, int)
        or not 1 <= max_results <= MAX_RESULTS_LIMIT
    ):
        _fail(
            f"max_results must be between 1 and {MAX_RESULTS_LIMIT:,}, not {max_results!r}",
            field="max_results",
        )
    where: list[ColumnElement[bool]] = []
    if experiment_ids is not None:
        ids = list(experiment_ids)
        where.append(RunRow.experiment_id.in_(ids) if ids else false())
    expr = parse_filter(filter)
    if expr is not None:
        where.append(_compile(expr))
    ordering = []
    for key in parse_order_by(order_by):
        for value in _sort_values(key.field):
            ordering.append((value.desc() if key.descending else value.asc()).nulls_last())
    ordering += [RunRow.start_time.desc(), RunRow.id.asc()]
    query: Select[str] = select(RunRow.id).where(*where).order_by(*ordering).limit(max_results)
    return query
