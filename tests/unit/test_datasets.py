"""Datasets are described by content: the same data gives the same digest, whatever its form."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.errors import InvalidInput
from shipyard.tracking.datasets import describe


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"customer": [1, 2, 3], "charges": [9.5, 20.0, 31.25], "plan": ["a", "b", "a"]})


def test_dataframe_digest_schema_and_rows(frame: pd.DataFrame) -> None:
    info = describe(frame, "train")
    assert info.digest.startswith("sha256:") and len(info.digest) == 71
    assert [(c.name, c.type) for c in info.schema][:2] == [("customer", "int64"), ("charges", "float64")]
    assert info.num_rows == 3 and info.source_type == "pandas" and info.location == ""
    assert describe(frame.copy(), "train").digest == info.digest
    changed = frame.copy()
    changed.loc[1, "charges"] = 20.01
    assert describe(changed, "train").digest != info.digest


def test_arrow_table(frame: pd.DataFrame) -> None:
    info = describe(pa.Table.from_pandas(frame, preserve_index=False), "train")
    assert info.num_rows == 3 and info.source_type == "arrow"
    assert ("charges", "double") in [(c.name, c.type) for c in info.schema]


def test_parquet_file_and_folder(frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    info = describe(path, "train")
    assert info.num_rows == 3 and info.source_type == "parquet" and info.location == str(path)
    import hashlib

    assert info.digest == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(2):
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / f"part-{i}.parquet")
    assert describe(folder, "train").num_rows == 6


def test_csv_file(frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    frame.to_csv(path, index=False)
    info = describe(str(path), "train")
    assert info.num_rows == 3 and info.source_type == "csv"
    assert [c.name for c in info.schema] == ["customer", "charges", "plan"]


def test_unusable_inputs_say_why(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        describe(tmp_path / "missing.parquet", "x")
    with pytest.raises(InvalidInput, match="list"):
        describe([1, 2, 3], "x")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(InvalidInput, match="Parquet or CSV"):
        describe(tmp_path / "notes.txt", "x")
