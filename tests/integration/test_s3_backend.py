"""The whole tracking flow with artifacts on an S3-compatible server (moto, on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shipyard.client import Client
from shipyard.config import load_settings


@pytest.mark.s3
def test_runs_store_artifacts_and_read_datasets_on_s3(s3_server: str, s3_bucket: str, tmp_path: Path) -> None:
    import s3fs

    frame = pd.DataFrame({"customer": range(100), "charges": [i * 1.5 for i in range(100)]})
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_server})
    with fs.open(f"{s3_bucket}/data/train.parquet", "wb") as f:
        frame.to_parquet(f)

    settings = load_settings(home=tmp_path, artifacts=f"s3://{s3_bucket}/shipyard", s3_endpoint_url=s3_server)
    client = Client(settings)
    model = tmp_path / "model.bin"
    model.write_bytes(b"\x00weights" * 10_000)
    with client.start_run("s3") as run:
        used = run.log_dataset(f"s3://{s3_bucket}/data/train.parquet", name="train")
        stored = run.log_artifact(model)

    assert used.dataset.num_rows == 100 and used.dataset.location == f"s3://{s3_bucket}/data/train.parquet"
    hexdigest = stored.digest.removeprefix("sha256:")
    assert fs.exists(f"{s3_bucket}/shipyard/sha256/{hexdigest[:2]}/{hexdigest[2:4]}/{hexdigest}")
    out = client.tracking.download_artifact(run.id, "model.bin", tmp_path / "copy.bin")
    assert out.read_bytes() == model.read_bytes()
    client.close()
