"""Batch scoring's file handling: chunked, ordered, complete or absent, text kept compact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.serving.batch import score_file


class Doubler:
    """Scores a row as twice its ``x``; fails on a row whose ``x`` is negative."""

    signature = None

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if (frame["x"] < 0).any():
            raise ValueError("negative x")
        return frame["x"].to_numpy() * 2.0


def write(path: Path, frame: pd.DataFrame) -> Path:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=7)
    return path


def test_every_row_is_scored_in_order_across_chunks(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": [f"c{i}" for i in range(50)], "x": np.arange(50.0), "n": np.arange(50) % 3})
    source = write(tmp_path / "in.parquet", frame)
    rows, _ = score_file(Doubler(), source, tmp_path / "out" / "scored.parquet", chunk_rows=8)
    scored = pd.read_parquet(tmp_path / "out" / "scored.parquet")
    assert rows == 50
    assert scored[["id", "x", "n"]].equals(frame)
    assert scored["prediction"].tolist() == [2.0 * i for i in range(50)]
    # Text is dictionary-encoded, numbers are not (they are compressed instead: writing stays cheap).
    meta = pq.ParquetFile(tmp_path / "out" / "scored.parquet").metadata.row_group(0)
    encodings = {meta.column(i).path_in_schema: meta.column(i).encodings for i in range(meta.num_columns)}
    assert any("DICTIONARY" in e for e in encodings["id"])
    assert not any("DICTIONARY" in e for e in encodings["x"] + encodings["prediction"])


def test_an_empty_input_gives_an_empty_output_with_its_columns(tmp_path: Path) -> None:
    source = write(tmp_path / "in.parquet", pd.DataFrame({"x": pd.Series([], dtype=float)}))
    rows, _ = score_file(Doubler(), source, tmp_path / "scored.parquet")
    assert rows == 0
    assert pq.read_schema(tmp_path / "scored.parquet").names == ["x"]


def test_a_failing_chunk_leaves_no_output_at_all(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1.0] * 30 + [-1.0] + [1.0] * 9})
    source = write(tmp_path / "in.parquet", frame)
    with pytest.raises(ValueError, match="negative x"):
        score_file(Doubler(), source, tmp_path / "scored.parquet", chunk_rows=8)
    assert list(tmp_path.iterdir()) == [source]  # neither the output nor a partial file
