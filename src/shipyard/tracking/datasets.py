"""Describe data where it is: digest, schema, row count and location of a pandas DataFrame, an
Arrow table, or a Parquet/CSV file or folder (local or any fsspec URL such as ``s3://``).

Digests cover the whole content: a file's bytes; a folder's sorted (relative path, file digest)
pairs; a DataFrame's row hashes plus its column names and dtypes; an Arrow table's IPC stream.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.tracking.model import Column, DatasetInfo

CHUNK = 1 << 20
SUFFIX_TYPES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def describe(data: Any, name: str, *, s3_endpoint_url: str | None = None) -> DatasetInfo:
    """Describe ``data``; ``s3_endpoint_url`` points ``s3://`` locations at a non-AWS server."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(data, pd.DataFrame):
        return _describe_pandas(data, name)
    if isinstance(data, pa.Table):
        return _describe_arrow(data, name)
    if isinstance(data, (str, Path)):
        options = {"client_kwargs": {"endpoint_url": s3_endpoint_url}} if s3_endpoint_url else {}
        return _describe_location(str(data), name, options)
    raise InvalidInput(
        f"cannot log {type(data).__name__} as a dataset: give a pandas DataFrame, a pyarrow Table, "
        "or the path of a Parquet/CSV file or folder",
        field="data",
    )


def _describe_pandas(df: Any, name: str) -> DatasetInfo:
    import pandas as pd

    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    schema = tuple(Column(str(c), str(t)) for c, t in df.dtypes.items())
    return DatasetInfo(name, "sha256:" + h.hexdigest(), schema, len(df), "", "pandas")


class _HashSink:
    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.closed = False

    def write(self, data: Any) -> int:
        self.hash.update(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _describe_arrow(table: Any, name: str) -> DatasetInfo:
    import pyarrow as pa

    sink = _HashSink()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    schema = tuple(Column(f.name, str(f.type)) for f in table.schema)
    return DatasetInfo(name, "sha256:" + sink.hash.hexdigest(), schema, table.num_rows, "", "arrow")


def _describe_location(location: str, name: str, options: dict[str, Any]) -> DatasetInfo:
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(location, **(options if location.startswith("s3://") else {}))
    except (ImportError, ValueError) as exc:
        raise InvalidInput(f"cannot open dataset location {location!r}: {exc}", field="data") from None
    if not fs.exists(path):
        raise InvalidInput(f"dataset location {location!r} does not exist", field="data")
    is_dir = fs.isdir(path)
    files = sorted(f for f in fs.find(path) if Path(f).suffix.lower() in SUFFIX_TYPES) if is_dir else [path]
    if not files:
        raise InvalidInput(f"dataset folder {location!r} holds no Parquet or CSV files", field="data")
    kinds = {SUFFIX_TYPES.get(Path(f).suffix.lower()) for f in files}
    if None in kinds or len(kinds) != 1:
        raise InvalidInput(f"dataset {location!r} must be Parquet or CSV files of one kind", field="data")
    kind = kinds.pop()
    digests = [(f, _file_digest(fs, f)) for f in files]
    if not is_dir:
        digest = digests[0][1]
    else:
        h = hashlib.sha256()
        for f, d in digests:
            h.update(f"{Path(f).relative_to(path).as_posix()}\0{d}\n".encode())
        digest = h.hexdigest()
    schema, rows = _parquet_shape(fs, files) if kind == "parquet" else _csv_shape(fs, files)
    uri = location if "://" in location else str(Path(location).resolve())
    return DatasetInfo(name, "sha256:" + digest, schema, rows, uri, str(kind))


def _file_digest(fs: Any, path: str) -> str:
    h = hashlib.sha256()
    with fs.open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _parquet_shape(fs: Any, files: list[str]) -> tuple[tuple[Column, ...], int]:
    import pyarrow.parquet as pq

    rows = 0
    schema = None
    for f in files:
        with fs.open(f, "rb") as handle:
            meta = pq.ParquetFile(handle).metadata
            rows += meta.num_rows
            schema = schema or meta.schema.to_arrow_schema()
    assert schema is not None
    return tuple(Column(field.name, str(field.type)) for field in schema), rows


def _csv_shape(fs: Any, files: list[str]) -> tuple[tuple[Column, ...], int]:
    import pyarrow.csv as pcsv

    rows = 0
    schema = None
    for f in files:
        with fs.open(f, "rb") as handle:
            reader = pcsv.open_csv(handle)
            schema = schema or reader.schema
            for batch in reader:
                rows += batch.num_rows
    assert schema is not None
    return tuple(Column(field.name, str(field.type)) for field in schema), rows
