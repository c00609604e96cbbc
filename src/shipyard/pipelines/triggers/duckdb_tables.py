"""A DuckDB table as a new-data source (``url``: ``duckdb:///relative.duckdb`` or
``duckdb:////absolute/path.duckdb``, the form feature-view SQL sources use). The file is opened
read-only for each look, so the process writing it is not held up between looks."""

from __future__ import annotations

from datetime import datetime

from shipyard.errors import BackendUnavailable, InvalidInput

PREFIX = "duckdb:///"


def is_duckdb(url: str) -> bool:
    return url.startswith(PREFIX)


def path_of(url: str) -> str:
    path = url.removeprefix(PREFIX)
    if not path.strip("/"):
        raise InvalidInput(f"a DuckDB url names a file (duckdb:///path.duckdb), got {url!r}", field="url")
    return "/" + path.lstrip("/") if url.startswith(PREFIX + "/") else path


def _quoted(name: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def watermark(url: str, table: str, column: str | None) -> str | None:
    """``max(column)`` of ``table`` (``schema.table`` allowed), else its row count; None if empty."""
    import duckdb

    expr = f"max({_quoted(column)})" if column else "count(*)"
    try:
        con = duckdb.connect(path_of(url), read_only=True)
    except duckdb.Error as exc:
        raise BackendUnavailable(f"cannot open DuckDB file {url!r}: {str(exc).splitlines()[0]}") from None
    try:
        row = con.execute(f"SELECT {expr} FROM {_quoted(table)}").fetchone()
    except duckdb.Error as exc:
        raise BackendUnavailable(f"cannot read table {table!r}: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    value = None if row is None else row[0]
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)
