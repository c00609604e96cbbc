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

The package has three parts: :mod:`.expressions` is the small immutable AST (no SQL);
:mod:`.parser` builds it (:func:`parse_filter`/:func:`parse_order_by`); :mod:`.sql` compiles it
(:func:`build_search`) to one SQLAlchemy ``SELECT`` of run ids. Key predicates are correlated
``EXISTS`` subqueries against the child tables, which use their ``(run_id, key)`` primary keys; an
ordering key's values come from an outer join on the same key.
"""

from __future__ import annotations

from shipyard.tracking.search.expressions import (
    ATTRIBUTES,
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
from shipyard.tracking.search.parser import parse_filter, parse_order_by
from shipyard.tracking.search.sql import MAX_RESULTS_LIMIT, build_count, build_filter, build_search

__all__ = [
    "ATTRIBUTES",
    "MAX_RESULTS_LIMIT",
    "And",
    "Compare",
    "Expr",
    "Field",
    "InList",
    "IsNull",
    "Kind",
    "Not",
    "Op",
    "Or",
    "OrderKey",
    "Value",
    "build_count",
    "build_filter",
    "build_search",
    "parse_filter",
    "parse_order_by",
]
