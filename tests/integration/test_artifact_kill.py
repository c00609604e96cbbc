"""A writer SIGKILLed in the middle of an upload leaves no object visible, and the upload can be
simply repeated. The writer is a real subprocess storing a large file through ``ContentStore``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.storage.artifacts import ArtifactStore, ContentStore, file_digest, open_store
from shipyard.storage.artifacts.content import blob_key
from shipyard.storage.artifacts.local import TMP_DIR, LocalArtifactStore
from shipyard.storage.artifacts.s3 import S3ArtifactStore

SRC = Path(__file__).resolve().parents[2] / "src"

WRITER = """
import sys
from pathlib import Path
from shipyard.storage.artifacts import ContentStore, open_store

store = open_store(sys.argv[1], s3_endpoint_url=sys.argv[2] or None)
ContentStore(store).put_file(Path(sys.argv[3]))
print("upload finished", flush=True)
"""


def _sparse_file(path: Path, size: int) -> Path:
    """A large file that takes no time or disk to create (it reads as zeros)."""
    with open(path, "wb") as out:
        out.truncate(size)
    return path


def _start_writer(location: str, source: Path, endpoint: str = "") -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, location, endpoint, str(source)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _kill_when(writer: subprocess.Popen[bytes], mid_upload: Callable[[], bool], timeout: float = 15) -> None:
    """SIGKILL ``writer`` as soon as ``mid_upload()`` holds; fail if it finished or never got there."""
    deadline = time.monotonic() + timeout
    while not mid_upload():
        if writer.poll() is not None:
            _, err = writer.communicate()
            pytest.fail(f"writer exited ({writer.returncode}) before it could be killed: {err.decode()}")
        if time.monotonic() > deadline:
            writer.kill()
            writer.communicate()
            pytest.fail(f"the upload did not start within {timeout} s")
        time.sleep(0.001)
    writer.send_signal(signal.SIGKILL)
    writer.communicate(timeout=30)
    assert writer.returncode == -signal.SIGKILL, "the writer finished before the kill landed"


def _assert_nothing_visible(store: ArtifactStore, digest: str) -> None:
    content = ContentStore(store)
    assert not store.exists(blob_key(digest))
    assert not content.exists(digest)
    assert list(store.list()) == []


def _assert_upload_repeats(store: ArtifactStore, source: Path, digest: str, tmp_path: Path) -> None:
    content = ContentStore(store)
    blob = content.put_file(source)
    assert blob.digest == digest
    assert content.exists(digest)
    back = content.get_file(digest, tmp_path / "downloaded.bin")  # get_file verifies the digest
    assert back.stat().st_size == source.stat().st_size


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_killed_local_upload_leaves_no_object(tmp_path: Path) -> None:
    size = 96 * 2**20  # copying takes long enough to be caught midway, and not much longer
    source = _sparse_file(tmp_path / "big.bin", size)
    digest = file_digest(source).digest
    root = tmp_path / "store"
    tmp_dir = root / TMP_DIR

    def writing_tmp_file() -> bool:
        # The writer hashes first, then copies into .tmp/<random>: catch it while that file grows.
        try:
            return any(0 < entry.stat().st_size < size for entry in os.scandir(tmp_dir))
        except FileNotFoundError:
            return False

    _kill_when(_start_writer(str(root), source), writing_tmp_file)

    store = LocalArtifactStore(root)
    assert [entry.name for entry in os.scandir(root)] == [TMP_DIR]  # only the killed writer's orphan
    assert len(list(tmp_dir.iterdir())) == 1
    _assert_nothing_visible(store, digest)
    _assert_upload_repeats(store, source, digest, tmp_path)
    assert (root / blob_key(digest)).stat().st_size == size


@pytest.mark.s3
@pytest.mark.slow
@pytest.mark.timeout(60)
def test_killed_s3_multipart_upload_leaves_no_object(tmp_path: Path, s3_server: str, s3_bucket: str) -> None:
    import boto3

    size = 160 * 2**20  # above s3fs's 2 x 50 MiB threshold: a multipart upload
    source = _sparse_file(tmp_path / "big.bin", size)
    digest = file_digest(source).digest
    client = boto3.client("s3", endpoint_url=s3_server)

    def multipart_upload_open() -> bool:
        return bool(client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads"))

    _kill_when(_start_writer(f"s3://{s3_bucket}/artifacts", source, s3_server), multipart_upload_open)

    store = open_store(f"s3://{s3_bucket}/artifacts", s3_endpoint_url=s3_server)
    assert isinstance(store, S3ArtifactStore)
    # The killed writer's upload is still open (never completed): S3 shows no object for it.
    uploads = client.list_multipart_uploads(Bucket=s3_bucket)["Uploads"]
    assert [upload["Key"] for upload in uploads] == [f"artifacts/{blob_key(digest)}"]
    assert client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0
    _assert_nothing_visible(store, digest)
    _assert_upload_repeats(store, source, digest, tmp_path)
