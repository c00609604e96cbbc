"""The run-search language: parsing, error messages, and what searches return on a real database.

Database tests run on SQLite and, when ``SHIPYARD_TEST_POSTGRES_URL`` is set, on PostgreSQL (a fresh
schema per test).
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, text

import shipyard.tracking.tables as tables
from shipyard.errors import InvalidInput
from shipyard.storage.metadata.base import Base
from shipyard.storage.metadata.engine import make_engine
from shipyard.tracking.search import (
    And,
    Compare,
    Field,
    InList,
    IsNull,
    Kind,
    Not,
    Op,
    Or,
    OrderKey,
    build_search,
    parse_filter,
    parse_order_by,
)
from support.databases import unavailable

POSTGRES_URL = os.environ.get("SHIPYARD_TEST_POSTGRES_URL")
NAN = math.nan
BASE = 1_700_000_000_000  # 2023-11-14T22:13:20Z, in epoch ms


def metric(key: str) -> Field:
    return Field(Kind.METRIC, key)


def param(key: str) -> Field:
    return Field(Kind.PARAM, key)


def tag(key: str) -> Field:
    return Field(Kind.TAG, key)


def attr(name: str) -> Field:
    return Field(Kind.ATTRIBUTE, name)


# ---- parsing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_blank_filter_is_none(blank: str) -> None:
    assert parse_filter(blank) is None


def test_not_binds_tighter_than_and_which_binds_tighter_than_or() -> None:
    parsed = parse_filter("metrics.a > 1 or params.b = 'x' and not tags.c = 'y'")
    assert parsed == Or(
        (
            Compare(metric("a"), Op.GT, 1),
            And((Compare(param("b"), Op.EQ, "x"), Not(Compare(tag("c"), Op.EQ, "y")))),
        )
    )


def test_parentheses_override_precedence_and_chains_flatten() -> None:
    parsed = parse_filter("(metrics.a > 1 or metrics.b > 2) and metrics.c > 3 and metrics.d > 4")
    assert parsed == And(
        (
            Or((Compare(metric("a"), Op.GT, 1), Compare(metric("b"), Op.GT, 2))),
            Compare(metric("c"), Op.GT, 3),
            Compare(metric("d"), Op.GT, 4),
        )
    )


def test_keywords_are_case_insensitive() -> None:
    lower = parse_filter("not metrics.a in (1, 2) and params.x not like 'a%' or tags.t is not null")
    mixed = parse_filter("NoT metrics.a In (1, 2) AND params.x NOT Like 'a%' Or tags.t IS NOT NULL")
    assert (
        lower
        == mixed
        == Or(
            (
                And((Not(InList(metric("a"), (1, 2))), Compare(param("x"), Op.NOT_LIKE, "a%"))),
                IsNull(tag("t"), negated=True),
            )
        )
    )


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("metrics.train.loss < 1", metric("train.loss")),
        ("metrics.`val loss` < 1", metric("val loss")),
        ('metrics."val.loss" < 1', metric("val.loss")),
        ('params."say \\"hi\\"" < 1', param('say "hi"')),
        ("tags.a/b-c_1 = 'x'", tag("a/b-c_1")),
        ("metrics.and < 1", metric("and")),  # a keyword is a fine key
        ("attributes.run_name = 'x'", attr("name")),
        ("run_name = 'x'", attr("name")),
        ("run_id = 'x'", attr("id")),
        ("attributes.Status = 'running'", attr("status")),
    ],
)
def test_identifiers(text: str, field: Field) -> None:
    parsed = parse_filter(text)
    assert isinstance(parsed, Compare)
    assert parsed.field == field


def test_fields_print_as_they_are_written() -> None:
    assert [str(f) for f in (metric("auc"), param("a.b"), tag("team name"), attr("start_time"))] == [
        "metrics.auc",
        "params.a.b",
        "tags.`team name`",
        "start_time",
    ]


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("metrics.a = 1", Op.EQ, 1),
        ("metrics.a == 1", Op.EQ, 1),
        ("metrics.a != -2", Op.NE, -2),
        ("metrics.a <> 2.5", Op.NE, 2.5),
        ("metrics.a < 1e-3", Op.LT, 0.001),
        ("metrics.a <= -1.5E+2", Op.LE, -150.0),
        ("metrics.a > .5", Op.GT, 0.5),
        ("metrics.a>=+3", Op.GE, 3),
        ("params.a = 'it''s'", Op.EQ, "it's"),
        ("params.a = 'it\\'s'", Op.EQ, "it's"),
        ('params.a = "say \\"hi\\""', Op.EQ, 'say "hi"'),
        ("params.a = 'back\\\\slash'", Op.EQ, "back\\slash"),
        ("params.a LIKE '50\\%'", Op.LIKE, "50\\%"),  # the escape reaches LIKE
        ("tags.a ilike 'x'", Op.ILIKE, "x"),
        ("tags.a not ilike 'x'", Op.NOT_ILIKE, "x"),
    ],
)
def test_comparators_and_values(text: str, op: Op, value: object) -> None:
    parsed = parse_filter(text)
    assert isinstance(parsed, Compare)
    assert (parsed.op, parsed.value) == (op, value)
    assert type(parsed.value) is type(value)


def test_status_values_are_normalised() -> None:
    assert parse_filter("status = 'finished'") == Compare(attr("status"), Op.EQ, "FINISHED")
    assert parse_filter("status not in ('Failed', 'KILLED')") == InList(
        attr("status"), ("FAILED", "KILLED"), negated=True
    )


@pytest.mark.parametrize(
    "value",
    [
        "1700000002000",
        "'2023-11-14T22:13:22Z'",
        "'2023-11-14T22:13:22'",  # naive means UTC
        "'2023-11-14 23:13:22+01:00'",
        "'2023-11-14T22:13:22.000'",
    ],
)
def test_times_accept_epoch_ms_and_iso_8601(value: str) -> None:
    assert parse_filter(f"start_time >= {value}") == Compare(attr("start_time"), Op.GE, BASE + 2000)


def test_date_only_means_midnight_utc() -> None:
    assert parse_filter("end_time < '2024-01-01'") == Compare(attr("end_time"), Op.LT, 1_704_067_200_000)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.auc >", "invalid filter at column 14: expected a value after '>', but the text ends"),
        (
            "params.lr = 0.1 and metrics.auc > and",
            "invalid filter at column 35: expected a value after '>', found 'and'",
        ),
        (
            "metrics.auc > 0.8 and",
            "invalid filter at column 22: expected a condition such as metrics.auc > 0.8 after 'and', "
            "but the text ends",
        ),
        (
            "metrics.auc 0.8",
            "invalid filter at column 13: expected a comparison (=, !=, <, <=, >, >=, [NOT] LIKE, "
            "[NOT] ILIKE, [NOT] IN, IS [NOT] NULL) after 'metrics.auc', found '0.8'",
        ),
        (
            "metrics.a > 1 metrics.b > 2",
            "invalid filter at column 15: expected 'and' or 'or' after '1', found 'metrics.b'",
        ),
        ("(metrics.a > 1", "invalid filter at column 15: expected ')' after '1', but the text ends"),
        ("metrics.a > 1)", "invalid filter at column 14: ')' without a matching '('"),
        ("metrics.a in (1 2)", "invalid filter at column 17: expected ',' or ')' after '1', found '2'"),
        ("metrics.a in ()", "invalid filter at column 15: expected a value after '(', found ')'"),
        ("metrics.a is 3", "invalid filter at column 14: expected NULL or NOT NULL after 'is', found '3'"),
        ("params.a = 'abc", "invalid filter at column 12: unterminated quote '"),
        ("metrics.`a b > 1", "invalid filter at column 9: unterminated quote `"),
        ("metrics.a > 1 ; drop", "invalid filter at column 15: unexpected character ';' after '1'"),
        (
            "metrics.a > 1 and\nmetrics.b >",
            "invalid filter at line 2, column 12: expected a value after '>', but the text ends",
        ),
        (
            "foo = 1",
            "unknown attribute 'foo' in filter (known: duration, end_time, experiment_id, id, name, "
            "parent_id, run_id, run_name, start_time, status, user)",
        ),
        ("metric.auc > 1", "unknown prefix 'metric.' in 'metric.auc' in filter"),
        ("metrics. > 1", "missing key after 'metrics.' in filter"),
        (
            "metrics.auc = 'high'",
            "metrics.auc is compared with a string ('high'); metrics compare with numbers",
        ),
        ("metrics.auc in (0.5, 'x')", "metrics.auc is compared with a string ('x')"),
        ("metrics.auc like '0.%'", "metrics.auc cannot be used with LIKE"),
        ("duration > '1h'", "duration is compared with a string ('1h')"),
        (
            "tags.team = 3",
            "tags.team is compared with a number (3); tags compare with strings (quote it: '3')",
        ),
        ("name > 'b'", "name > 'b': strings cannot be ordered"),
        ("params.opt < 'b'", "params.opt < 'b': strings cannot be ordered"),
        ("params.x like 1", "LIKE needs a string pattern, not a number (1), after params.x"),
        ("params.x in (1, 'a')", "the IN list of params.x mixes numbers and strings; use one kind"),
        ("params.x like 'a\\\\'", "the LIKE pattern 'a\\' for params.x ends with an escape character"),
        ("status = 'done'", "unknown status 'done' in filter (valid: RUNNING, FINISHED, FAILED, KILLED)"),
        ("status like 'RUN%'", "status cannot be used with LIKE"),
        ("start_time > 'yesterday'", "start_time is compared with 'yesterday', which is neither epoch"),
        ("start_time > 1e30", "start_time is compared with 1e+30, which is out of range"),
        ("metrics.a > 1e999", "number 1e999 in filter is out of range"),
    ],
)
def test_filter_errors_say_what_and_where(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_filter(text)
    assert caught.value.field == "filter"
    assert caught.value.message.startswith(message)
    assert "\n" not in caught.value.message
    assert "Token" not in caught.value.message and "lark" not in caught.value.message.lower()


def test_order_by_parses_directions_and_defaults_to_ascending() -> None:
    assert parse_order_by(["metrics.auc DESC", "params.lr", "start_time asc", "name", "tags.`a b` Desc"]) == [
        OrderKey(metric("auc"), descending=True),
        OrderKey(param("lr")),
        OrderKey(attr("start_time")),
        OrderKey(attr("name")),
        OrderKey(tag("a b"), descending=True),
    ]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (
            ["metrics.auc up"],
            "unknown ordering direction 'up' in order_by 'metrics.auc up' (use ASC or DESC)",
        ),
        (["foo desc"], "unknown attribute 'foo' in order_by 'foo desc' (known: duration,"),
        (
            ["metrics.auc desc, name"],
            "invalid order_by 'metrics.auc desc, name' at column 17: expected the end",
        ),
        ([" "], "empty item in order_by"),
        ("metrics.auc", "order_by must be a list of strings, not one string"),
    ],
)
def test_order_by_errors(items: Sequence[str], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_order_by(items)
    assert caught.value.field == "order_by"
    assert caught.value.message.startswith(message)


@pytest.mark.parametrize("max_results", [0, -1, 50_001, True, 2.5])
def test_max_results_out_of_range(max_results: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        build_search(None, "", [], max_results)
    assert caught.value.field == "max_results"
    assert "between 1 and 50,000" in caught.value.message


def test_build_search_reports_filter_and_order_by_errors_with_their_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        build_search(None, "metrics.auc >", [], 10)
    assert caught.value.field == "filter"
    with pytest.raises(InvalidInput) as caught:
        build_search(None, "", ["metrics.auc sideways"], 10)
    assert caught.value.field == "order_by"


# ---- databases ------------------------------------------------------------------------------------


@contextmanager
def database(backend: str, directory: Path) -> Iterator[Engine]:
    """An engine on an empty metadata database: a SQLite file or a fresh PostgreSQL schema."""
    assert tables.RunRow.__tablename__ in Base.metadata.tables
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{directory / 'metadata.db'}")
        Base.metadata.create_all(engine)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    if not POSTGRES_URL:
        unavailable("SHIPYARD_TEST_POSTGRES_URL is not set")
    schema = f"test_search_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL, pool_size=1)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        Base.metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with database(request.param, tmp_path) as engine:
        yield engine


@dataclass
class Run:
    id: str
    start: int
    end: int | None = None
    name: str = ""
    status: str = "FINISHED"
    user: str = "ann"
    experiment: str = "e1"
    parent: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def as_number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def insert_runs(engine: Engine, runs: Sequence[Run]) -> None:
    experiments = sorted({r.experiment for r in runs})
    with engine.begin() as conn:
        conn.execute(
            insert(tables.ExperimentRow),
            [{"id": e, "name": f"exp {e}", "created_at": BASE} for e in experiments],
        )
        conn.execute(
            insert(tables.RunRow),
            [
                {
                    "id": r.id,
                    "experiment_id": r.experiment,
                    "name": r.name or r.id,
                    "status": r.status,
                    "start_time": r.start,
                    "end_time": r.end,
                    "user": r.user,
                    "parent_id": r.parent,
                }
                for r in runs
            ],
        )
        metrics = [
            {"run_id": r.id, "key": k, "value": None if math.isnan(v) else v, "step": 0, "timestamp": r.start}
            for r in runs
            for k, v in r.metrics.items()
        ]
        params = [
            {"run_id": r.id, "key": k, "value": v, "value_num": as_number(v)}
            for r in runs
            for k, v in r.params.items()
        ]
        tags = [{"run_id": r.id, "key": k, "value": v} for r in runs for k, v in r.tags.items()]
        children: list[tuple[type[Base], Sequence[Mapping[str, object]]]] = [
            (tables.LatestMetricRow, metrics),
            (tables.ParamRow, params),
            (tables.TagRow, tags),
        ]
        for table, rows in children:
            if rows:
                conn.execute(insert(table), rows)


def search(
    engine: Engine,
    filter: str = "",
    order_by: Sequence[str] = (),
    experiments: Sequence[str] | None = None,
    max_results: int = 1000,
) -> list[str]:
    with engine.connect().execution_options(shipyard_readonly=True) as conn:
        return list(conn.execute(build_search(experiments, filter, order_by, max_results)).scalars())


ZOO = [
    Run(
        "r1",
        start=BASE,
        end=BASE + 60_000,
        name="resnet-a",
        metrics={"auc": 0.91, "loss": 0.2},
        params={"lr": "0.01", "optimizer": "adam", "depth": "3"},
        tags={"team": "Vision", "size": "b"},
    ),
    Run(
        "r2",
        start=BASE + 1000,
        end=BASE + 121_000,
        name="resnet-b",
        user="bob",
        metrics={"auc": 0.75, "loss": NAN},
        params={"lr": "0.1", "optimizer": "sgd", "depth": "10"},
        tags={"team": "vision", "size": "a", "pattern": "a*b[1]?"},
    ),
    Run(
        "r3",
        start=BASE + 2000,
        end=BASE + 5000,
        name="bert-a",
        status="FAILED",
        metrics={"auc": NAN},
        params={"lr": "1e-3", "optimizer": "Adam", "depth": "deep"},
        tags={"team": "NLP", "size": "c", "note": "50% done"},
    ),
    Run(
        "r4",
        start=BASE + 3000,
        name="bert-b",
        status="RUNNING",
        user="carol",
        parent="r3",
        metrics={"loss": 0.5},
        params={"optimizer": "adamw"},
    ),
    Run(
        "r5",
        start=BASE + 4000,
        end=BASE + 10_000,
        name="other",
        experiment="e2",
        metrics={"auc": 0.99},
        params={"lr": "0.05"},
    ),
]


@pytest.fixture(scope="module", params=BACKENDS)
def zoo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The ZOO runs, inserted once per backend: the tests using them only read."""
    with database(request.param, tmp_path_factory.mktemp("zoo")) as engine:
        insert_runs(engine, ZOO)
        yield engine


def test_no_filter_returns_every_run_newest_first(zoo: Engine) -> None:
    assert search(zoo) == ["r5", "r4", "r3", "r2", "r1"]


@pytest.mark.parametrize(
    ("experiments", "expected"),
    [
        (None, ["r5", "r4", "r3", "r2", "r1"]),
        (["e1"], ["r4", "r3", "r2", "r1"]),
        (["e2"], ["r5"]),
        (["e1", "e2"], ["r5", "r4", "r3", "r2", "r1"]),
        ([], []),
        (["nope"], []),
    ],
)
def test_experiment_filter(zoo: Engine, experiments: list[str] | None, expected: list[str]) -> None:
    assert search(zoo, experiments=experiments) == expected


def test_experiment_filter_combines_with_the_filter(zoo: Engine) -> None:
    assert search(zoo, "metrics.auc > 0.8", experiments=["e1"]) == ["r1"]


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        # precedence: not > and > or
        ("metrics.auc > 0.8 or params.optimizer = 'sgd' and tags.team = 'NLP'", ["r5", "r1"]),
        ("(metrics.auc > 0.8 or params.optimizer = 'sgd') and tags.team = 'vision'", ["r2"]),
        ("not params.optimizer = 'adam' and user = 'ann'", ["r5", "r3"]),
        ("not (params.optimizer = 'adam' and user = 'ann')", ["r5", "r4", "r3", "r2"]),
        ("not not metrics.auc > 0.8", ["r5", "r1"]),
        # metrics: the latest value, numbers only; NaN and missing never match a comparison
        ("metrics.auc > 0.8", ["r5", "r1"]),
        ("metrics.auc >= 0.91", ["r5", "r1"]),
        ("metrics.auc = 0.75", ["r2"]),
        ("metrics.auc != 0.75", ["r5", "r1"]),
        ("metrics.auc < 0 or metrics.auc >= 0", ["r5", "r2", "r1"]),
        ("metrics.loss >= 0", ["r4", "r1"]),
        ("metrics.auc in (0.75, 0.99)", ["r5", "r2"]),
        ("metrics.auc not in (0.75, 0.99)", ["r1"]),
        # `not` negates the whole predicate: runs without the value are included
        ("not metrics.auc > 0.8", ["r4", "r3", "r2"]),
        # IS NULL: the run does not have the key (a NaN value is a value)
        ("metrics.auc is null", ["r4"]),
        ("metrics.auc is not null", ["r5", "r3", "r2", "r1"]),
        ("tags.team is null", ["r5", "r4"]),
        ("params.lr IS NULL", ["r4"]),
        ("parent_id is not null", ["r4"]),
        ("end_time is null", ["r4"]),
        # missing keys never match, not even !=, NOT LIKE or NOT IN
        ("params.optimizer != 'adam'", ["r4", "r3", "r2"]),
        ("tags.team <> 'NLP'", ["r2", "r1"]),
        ("tags.team not like 'N%'", ["r2", "r1"]),
        ("tags.team not in ('NLP')", ["r2", "r1"]),
        ("parent_id != 'r9'", ["r4"]),
        ("not parent_id = 'r3'", ["r5", "r3", "r2", "r1"]),
        # params: a number compares numerically, a string compares the text
        ("params.lr > 0.01", ["r5", "r2"]),
        ("params.lr = 0.001", ["r3"]),
        ("params.lr = '0.001'", []),
        ("params.lr = '1e-3'", ["r3"]),
        ("params.depth >= 3", ["r2", "r1"]),
        ("params.depth = 3", ["r1"]),
        ("params.depth < 100 and params.depth != 3", ["r2"]),
        ("params.depth in (3, 10)", ["r2", "r1"]),
        ("params.depth in ('deep', '3')", ["r3", "r1"]),
        # LIKE is case-sensitive on every backend, ILIKE is not
        ("params.optimizer LIKE 'adam%'", ["r4", "r1"]),
        ("params.optimizer ILIKE 'ADAM%'", ["r4", "r3", "r1"]),
        ("params.optimizer not ilike 'adam'", ["r4", "r2"]),
        ("name like 'BERT%'", []),
        ("name ilike 'BERT%'", ["r4", "r3"]),
        ("name like 'resnet_a'", ["r1"]),
        ("name like 'resnet\\_a'", []),
        ("name not like 'resnet%'", ["r5", "r4", "r3"]),
        ("tags.note like '50\\%%'", ["r3"]),
        ("tags.note like '5_\\% done'", ["r3"]),
        ("tags.pattern like 'a*b[1]?'", ["r2"]),
        ("tags.pattern like 'a*%'", ["r2"]),
        ("tags.pattern like 'ab%'", []),
        ("tags.pattern ilike 'A*B[1]_'", ["r2"]),
        # attributes
        ("status = 'finished'", ["r5", "r2", "r1"]),
        ("status in ('running', 'FAILED')", ["r4", "r3"]),
        ("status not in ('FINISHED')", ["r4", "r3"]),
        ("status != 'FINISHED'", ["r4", "r3"]),
        ("user in ('ann', 'carol')", ["r5", "r4", "r3", "r1"]),
        ("attributes.run_name = 'bert-a'", ["r3"]),
        ("run_id = 'r2' or id in ('r1', 'r5')", ["r5", "r2", "r1"]),
        ("experiment_id = 'e2'", ["r5"]),
        # times: epoch ms or ISO-8601 (naive is UTC); duration in ms, NULL while running
        ("start_time >= 1700000002000", ["r5", "r4", "r3"]),
        ("start_time >= '2023-11-14T22:13:22Z'", ["r5", "r4", "r3"]),
        ("start_time >= '2023-11-14T22:13:22'", ["r5", "r4", "r3"]),
        ("start_time >= '2023-11-14T23:13:22+01:00'", ["r5", "r4", "r3"]),
        ("start_time < '2023-11-14T22:13:21.000Z'", ["r1"]),
        ("end_time < '2023-11-14T22:14:00Z'", ["r5", "r3"]),
        ("end_time != 0", ["r5", "r3", "r2", "r1"]),
        ("duration > 60000", ["r2"]),
        ("duration >= 60000", ["r2", "r1"]),
        ("duration <= 6000", ["r5", "r3"]),
        ("not duration > 60000", ["r5", "r4", "r3", "r1"]),
    ],
)
def test_filter_semantics(zoo: Engine, filter: str, expected: list[str]) -> None:
    assert search(zoo, filter) == expected


def test_successive_like_searches_use_their_own_patterns(zoo: Engine) -> None:
    # The compiled statement is cached by shape; each search must still bind its own pattern.
    assert search(zoo, "name like 'resnet%'") == ["r2", "r1"]
    assert search(zoo, "name like 'bert%'") == ["r4", "r3"]
    assert search(zoo, "name not like 'bert%'") == ["r5", "r2", "r1"]
    assert search(zoo, "name not like 'resnet%'") == ["r5", "r4", "r3"]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ([], ["r5", "r4", "r3", "r2", "r1"]),
        # runs without the value (r4 has no auc, r3's is NaN) come last either way, newest first
        (["metrics.auc DESC"], ["r5", "r1", "r2", "r4", "r3"]),
        (["metrics.auc"], ["r2", "r1", "r5", "r4", "r3"]),
        (["metrics.auc asc"], ["r2", "r1", "r5", "r4", "r3"]),
        # params sort numerically (0.001 < 0.01 < 0.05 < 0.1), text after numbers, missing last
        (["params.lr"], ["r3", "r1", "r5", "r2", "r4"]),
        (["params.lr desc"], ["r2", "r5", "r1", "r3", "r4"]),
        (["params.depth"], ["r1", "r2", "r3", "r5", "r4"]),
        (["params.depth desc"], ["r2", "r1", "r3", "r5", "r4"]),
        (["tags.size"], ["r2", "r1", "r3", "r5", "r4"]),
        (["tags.size desc"], ["r3", "r1", "r2", "r5", "r4"]),
        (["name"], ["r3", "r4", "r5", "r1", "r2"]),
        (["start_time asc"], ["r1", "r2", "r3", "r4", "r5"]),
        (["duration desc"], ["r2", "r1", "r5", "r3", "r4"]),
        (["duration"], ["r3", "r5", "r1", "r2", "r4"]),
        (["end_time DESC"], ["r2", "r1", "r5", "r3", "r4"]),
        (["parent_id"], ["r4", "r5", "r3", "r2", "r1"]),
        (["user", "metrics.auc desc"], ["r5", "r1", "r3", "r2", "r4"]),
        (["status desc", "attributes.run_name desc"], ["r4", "r2", "r1", "r5", "r3"]),
    ],
)
def test_ordering(zoo: Engine, order_by: list[str], expected: list[str]) -> None:
    assert search(zoo, order_by=order_by) == expected


def test_ties_break_by_newest_start_then_id(engine: Engine) -> None:
    insert_runs(
        engine,
        [
            Run(rid, start=BASE + (1000 if rid in "bd" else 0), metrics={"m": 1.0})
            for rid in ["c", "a", "d", "b"]
        ],
    )
    assert search(engine, order_by=["metrics.m"]) == ["b", "d", "a", "c"]
    assert search(engine, order_by=["metrics.m desc"]) == ["b", "d", "a", "c"]


def test_max_results_limits_after_ordering(zoo: Engine) -> None:
    assert search(zoo, max_results=2) == ["r5", "r4"]
    assert search(zoo, "metrics.auc is not null", ["metrics.auc"], max_results=1) == ["r2"]
    assert search(zoo, max_results=50_000) == ["r5", "r4", "r3", "r2", "r1"]


def test_key_predicates_use_indexes_on_sqlite(tmp_path: Path) -> None:
    with database("sqlite", tmp_path) as engine:
        statement = build_search(
            None, "metrics.auc > 0.8 and params.lr = 0.1 and tags.team = 'x'", ["metrics.auc desc"], 10
        )
        compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
        with engine.connect().execution_options(shipyard_readonly=True) as conn:
            plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")]
    scanned = [step for step in plan if step.startswith("SCAN") and "runs" not in step]
    assert scanned == [], plan


# ---- property: random boolean combinations of metric thresholds agree with Python ------------------

KEYS = ("a", "b", "c")
LEVELS = (0.0, 0.25, 0.5, 1.0)
MISSING = object()


def _oracle_runs() -> list[Run]:
    """Every run of a small grid: each key missing, NaN, or one of LEVELS, cycled so all mix."""
    choices: list[object] = [MISSING, NAN, *LEVELS]
    runs = []
    for i in range(len(choices) ** 2):
        values = [choices[i % 6], choices[(i // 6) % 6], choices[(i * 5 + 1) % 6]]
        metrics = {k: v for k, v in zip(KEYS, values, strict=True) if isinstance(v, float)}
        runs.append(Run(f"o{i:02d}", start=BASE + i, metrics=metrics))
    return runs


ORACLE_RUNS = _oracle_runs()


@pytest.fixture(scope="module", params=BACKENDS)
def oracle_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with database(request.param, tmp_path_factory.mktemp("oracle")) as engine:
        insert_runs(engine, ORACLE_RUNS)
        yield engine


COMPARE: dict[str, Callable[[float, float], bool]] = {
    "=": lambda x, y: x == y,
    "!=": lambda x, y: x != y,
    "<": lambda x, y: x < y,
    "<=": lambda x, y: x <= y,
    ">": lambda x, y: x > y,
    ">=": lambda x, y: x >= y,
}

# An expression is ("cmp", key, op, threshold) | ("null", key, negated) | ("not", e) | ("and"|"or", l, r)
Expression = tuple[object, ...]


def _leaves() -> st.SearchStrategy[Expression]:
    compare = st.tuples(
        st.just("cmp"),
        st.sampled_from(KEYS),
        st.sampled_from(sorted(COMPARE)),
        st.sampled_from((-1, *LEVELS, 2)),
    )
    null = st.tuples(st.just("null"), st.sampled_from(KEYS), st.booleans())
    return compare | null


expressions = st.recursive(
    _leaves(),
    lambda inner: st.tuples(st.just("not"), inner) | st.tuples(st.sampled_from(("and", "or")), inner, inner),
    max_leaves=6,
)
PRECEDENCE = {"or": 1, "and": 2, "not": 3, "cmp": 4, "null": 4}


def render(expr: Expression, case: Callable[[str], str], outer: int = 0) -> str:
    """Filter text with only the parentheses precedence needs, so the parser's precedence is tested."""
    kind = str(expr[0])
    if kind == "cmp":
        text = f"metrics.{expr[1]} {expr[2]} {expr[3]}"
    elif kind == "null":
        text = f"metrics.{expr[1]} {case('is not null' if expr[2] else 'is null')}"
    elif kind == "not":
        text = f"{case('not')} {render(expr[1], case, PRECEDENCE['not'])}"  # type: ignore[arg-type]
    else:
        left = render(expr[1], case, PRECEDENCE[kind])  # type: ignore[arg-type]
        # the grammar is left-associative, so a right operand of the same precedence needs parentheses
        right = render(expr[2], case, PRECEDENCE[kind] + 1)  # type: ignore[arg-type]
        text = f"{left} {case(kind)} {right}"
    return f"({text})" if PRECEDENCE[kind] < outer else text


def holds(expr: Expression, metrics: dict[str, float]) -> bool:
    kind = expr[0]
    if kind == "cmp":
        value = metrics.get(str(expr[1]), NAN)
        return not math.isnan(value) and COMPARE[str(expr[2])](value, float(expr[3]))  # type: ignore[arg-type]
    if kind == "null":
        return (str(expr[1]) in metrics) == bool(expr[2])
    if kind == "not":
        return not holds(expr[1], metrics)  # type: ignore[arg-type]
    left, right = holds(expr[1], metrics), holds(expr[2], metrics)  # type: ignore[arg-type]
    return left and right if kind == "and" else left or right


@settings(max_examples=200, deadline=None)
@given(expr=expressions, upper=st.booleans())
def test_metric_filters_agree_with_a_python_oracle(oracle_db: Engine, expr: Expression, upper: bool) -> None:
    filter = render(expr, str.upper if upper else str.lower)
    expected = sorted(r.id for r in ORACLE_RUNS if holds(expr, r.metrics))
    assert sorted(search(oracle_db, filter)) == expected, filter
