"""Filter and order-by text -> AST: the grammar, syntax-error messages, and the checks of names,
value kinds and operators (so the AST is always valid). The language is explained in
:mod:`shipyard.tracking.search`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NoReturn

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from shipyard.errors import InvalidInput
from shipyard.tracking.model import RunStatus
from shipyard.tracking.search.expressions import (
    ATTRIBUTES,
    NUMERIC_ATTRIBUTES,
    ORDERING_OPS,
    PATTERN_OPS,
    TIME_ATTRIBUTES,
    And,
    Compare,
    Expr,
    Field,
    InList,
    IsNull,
    Kind,
    Not,
    Op,
    Or,
    OrderKey,
    Value,
)

#: How deeply parentheses and NOT may nest in a filter (a fixed guard for the recursive compiler).
MAX_FILTER_DEPTH = 64

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
        if not -(2**63) <= number < 2**63:  # past a BIGINT: compare as a float (or fail below)
            number = float(number)
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
    if op in PATTERN_OPS:
        if kind is Kind.METRIC or (kind is Kind.ATTRIBUTE and (key in NUMERIC_ATTRIBUTES or key == "status")):
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
    if kind is Kind.ATTRIBUTE and key in TIME_ATTRIBUTES:
        value = value if is_number else _epoch_ms(name, str(value))
    if kind is Kind.ATTRIBUTE and key in NUMERIC_ATTRIBUTES:
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
    if op in ORDERING_OPS:
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
    """Parse a filter string (see :mod:`shipyard.tracking.search`); None when it is empty or blank."""
    if not text or not text.strip():
        return None
    return _build(_parse(text, "filter", "filter"))


def check_filter_size(text: str, *, max_length: int, max_terms: int) -> None:
    """Refuse (422 naming the cap) a filter longer than ``max_length`` characters or with more
    than ``max_terms`` comparisons (each IN-list value counts as one), before it reaches SQL."""
    if not text or not text.strip():
        return
    if len(text) > max_length:
        _fail(f"the filter is {len(text)} characters long; at most {max_length} (setting max_filter_length)")
    terms, deepest = 0, 0
    stack: list[tuple[Tree[Token] | Token, int]] = [(_parse(text, "filter", "filter"), 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, Tree):
            continue
        deepest = max(deepest, depth)
        if node.data in ("compare", "is_null"):
            terms += 1
        elif node.data == "in_list":
            terms += sum(isinstance(t, Token) and t.type in ("NUMBER", "STRING") for t in node.children)
        stack.extend((child, depth + 1) for child in node.children)
    if terms > max_terms:
        _fail(f"the filter has {terms} terms; at most {max_terms} (setting max_filter_terms)")
    if deepest > MAX_FILTER_DEPTH:
        _fail(f"the filter nests {deepest} levels deep; at most {MAX_FILTER_DEPTH}")


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
