"""The content-addressed layer: digest addressing, deduplication and corruption detection."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from shipyard.errors import CorruptArtifact, InvalidInput, NotFound
from shipyard.storage.artifacts import ArtifactStore, Blob, ContentStore, file_digest, parse_digest
from shipyard.storage.artifacts.content import blob_key
from shipyard.storage.artifacts.local import LocalArtifactStore
from shipyard.storage.artifacts.memory import MemoryArtifactStore

HELLO = b"hello, shipyard"
HELLO_HEX = hashlib.sha256(HELLO).hexdigest()
HELLO_DIGEST = f"sha256:{HELLO_HEX}"


class CountingStore(MemoryArtifactStore):
    """A real memory store that also counts uploads."""

    def __init__(self) -> None:
        super().__init__()
        self.uploads = 0

    def put_file(self, key: str, source: Path) -> None:
        self.uploads += 1
        super().put_file(key, source)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.uploads += 1
        super().put_bytes(key, data)


@pytest.fixture(params=["memory", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return LocalArtifactStore(tmp_path / "store")
    return MemoryArtifactStore()


@pytest.fixture
def content(store: ArtifactStore) -> ContentStore:
    return ContentStore(store)


def _corrupt(content: ContentStore, digest: str, data: bytes | None = None) -> None:
    """Replace the stored bytes behind ``digest``, as bit rot or a tampering hand would."""
    key = blob_key(digest)
    original = content.store.open(key).read()
    content.store.put_bytes(key, data if data is not None else b"X" + original[1:])


# -- addressing ----------------------------------------------------------------------------------


def test_put_bytes_addresses_content_by_sha256(content: ContentStore) -> None:
    blob = content.put_bytes(HELLO)
    assert blob == Blob(HELLO_DIGEST, len(HELLO))
    assert content.store.exists(f"sha256/{HELLO_HEX[:2]}/{HELLO_HEX[2:4]}/{HELLO_HEX}")
    assert list(content.store.list()) == [f"sha256/{HELLO_HEX[:2]}/{HELLO_HEX[2:4]}/{HELLO_HEX}"]
    assert content.exists(HELLO_DIGEST)
    assert content.exists(HELLO_HEX)  # a bare hex digest names the same blob
    assert content.size(HELLO_DIGEST) == len(HELLO)
    assert content.read_bytes(HELLO_DIGEST) == HELLO


def test_put_file_and_put_stream_agree_with_put_bytes(content: ContentStore, tmp_path: Path) -> None:
    source = tmp_path / "hello.txt"
    source.write_bytes(HELLO)
    assert content.put_file(source) == Blob(HELLO_DIGEST, len(HELLO))
    assert content.put_stream(io.BytesIO(HELLO)) == Blob(HELLO_DIGEST, len(HELLO))
    assert file_digest(source) == Blob(HELLO_DIGEST, len(HELLO))
    assert len(list(content.store.list())) == 1


def test_empty_content(content: ContentStore) -> None:
    blob = content.put_bytes(b"")
    assert blob == Blob(f"sha256:{hashlib.sha256(b'').hexdigest()}", 0)
    assert content.read_bytes(blob.digest) == b""


def test_multi_chunk_file_round_trip(content: ContentStore, tmp_path: Path) -> None:
    data = os.urandom(3 * 2**20 + 17)  # several 1 MiB chunks and a ragged end
    source = tmp_path / "model.bin"
    source.write_bytes(data)
    blob = content.put_file(source)
    assert blob.digest == f"sha256:{hashlib.sha256(data).hexdigest()}"
    dest = content.get_file(blob.digest, tmp_path / "out" / "nested" / "model.bin")
    assert dest.read_bytes() == data
    assert [p.name for p in dest.parent.iterdir()] == ["model.bin"]  # no temporary file left
    with content.open(blob.digest) as reader:
        assert reader.read(10) == data[:10]
        assert reader.read() == data[10:]


def test_missing_digest_is_not_found_naming_it(content: ContentStore, tmp_path: Path) -> None:
    for operation in (
        lambda: content.open(HELLO_DIGEST),
        lambda: content.read_bytes(HELLO_DIGEST),
        lambda: content.size(HELLO_DIGEST),
        lambda: content.get_file(HELLO_DIGEST, tmp_path / "dest"),
    ):
        with pytest.raises(NotFound, match=HELLO_DIGEST):
            operation()
    assert not content.exists(HELLO_DIGEST)
    assert not (tmp_path / "dest").exists()


def test_put_file_of_missing_path_is_not_found(content: ContentStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"absent\.bin"):
        content.put_file(tmp_path / "absent.bin")


# -- deduplication -------------------------------------------------------------------------------


def test_second_put_of_same_content_does_not_rewrite(tmp_path: Path) -> None:
    counting = CountingStore()
    content = ContentStore(counting)
    source = tmp_path / "data.bin"
    source.write_bytes(HELLO)
    content.put_file(source)
    content.put_file(source)
    content.put_bytes(HELLO)
    content.put_stream(io.BytesIO(HELLO))
    assert counting.uploads == 1


def test_second_put_leaves_the_local_file_untouched(tmp_path: Path) -> None:
    content = ContentStore(LocalArtifactStore(tmp_path / "store"))
    blob = content.put_bytes(HELLO)
    stored = tmp_path / "store" / blob_key(blob.digest)
    inode, mtime = stored.stat().st_ino, stored.stat().st_mtime_ns
    content.put_bytes(HELLO)
    assert (stored.stat().st_ino, stored.stat().st_mtime_ns) == (inode, mtime)


def test_put_repairs_an_object_of_the_wrong_size(content: ContentStore) -> None:
    blob = content.put_bytes(HELLO)
    _corrupt(content, blob.digest, b"truncated")
    content.put_bytes(HELLO)
    assert content.read_bytes(blob.digest) == HELLO


# -- corruption ----------------------------------------------------------------------------------


def test_corruption_is_detected_on_read_bytes(content: ContentStore) -> None:
    blob = content.put_bytes(HELLO)
    _corrupt(content, blob.digest)
    with pytest.raises(CorruptArtifact) as caught:
        content.read_bytes(blob.digest)
    message = str(caught.value)
    bad = f"sha256:{hashlib.sha256(b'X' + HELLO[1:]).hexdigest()}"
    assert message.startswith(f"artifact {HELLO_DIGEST} is corrupt: expected {HELLO_DIGEST}, read {bad}")
    assert content.store.uri in message


def test_corruption_is_detected_at_the_end_of_an_open_reader(content: ContentStore) -> None:
    blob = content.put_bytes(HELLO)
    _corrupt(content, blob.digest)
    with content.open(blob.digest) as reader:
        assert reader.read(5) == b"Xello"  # bytes flow until the end can be checked
        with pytest.raises(CorruptArtifact, match=HELLO_DIGEST):
            while reader.read(2):
                pass


def test_corruption_of_a_big_object_is_detected_in_chunked_reads(content: ContentStore) -> None:
    data = os.urandom(2 * 2**20 + 5)
    blob = content.put_bytes(data)
    _corrupt(content, blob.digest, data[:-1] + bytes([data[-1] ^ 1]))
    with content.open(blob.digest) as reader, pytest.raises(CorruptArtifact):
        while reader.read(64 * 1024):
            pass


def test_get_file_leaves_nothing_at_dest_on_corruption(content: ContentStore, tmp_path: Path) -> None:
    blob = content.put_bytes(HELLO)
    _corrupt(content, blob.digest)
    out = tmp_path / "out"
    with pytest.raises(CorruptArtifact, match=HELLO_DIGEST):
        content.get_file(blob.digest, out / "hello.txt")
    assert list(out.iterdir()) == []  # neither dest nor a temporary file


def test_get_file_keeps_the_previous_dest_on_corruption(content: ContentStore, tmp_path: Path) -> None:
    blob = content.put_bytes(HELLO)
    _corrupt(content, blob.digest)
    dest = tmp_path / "hello.txt"
    dest.write_bytes(b"previous")
    with pytest.raises(CorruptArtifact):
        content.get_file(blob.digest, dest)
    assert dest.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir() if p.name != "store"] == ["hello.txt"]


# -- put_stream ----------------------------------------------------------------------------------


def test_put_stream_with_expected_digest(content: ContentStore) -> None:
    blob = content.put_stream(io.BytesIO(HELLO), expected_digest=HELLO_HEX)
    assert blob.digest == HELLO_DIGEST
    assert content.read_bytes(HELLO_DIGEST) == HELLO


def test_put_stream_with_wrong_expected_digest_stores_nothing(content: ContentStore) -> None:
    wrong = "sha256:" + "0" * 64
    with pytest.raises(CorruptArtifact) as caught:
        content.put_stream(io.BytesIO(HELLO), expected_digest=wrong)
    assert wrong in str(caught.value)
    assert HELLO_DIGEST in str(caught.value)
    assert list(content.store.list()) == []
    assert not content.exists(HELLO_DIGEST)


def test_put_stream_rejects_a_malformed_expected_digest_before_reading(content: ContentStore) -> None:
    stream = io.BytesIO(HELLO)
    with pytest.raises(InvalidInput, match="digest"):
        content.put_stream(stream, expected_digest="sha256:nothex")
    assert stream.tell() == 0


# -- digests -------------------------------------------------------------------------------------


def test_parse_digest_accepts_prefixed_bare_and_uppercase() -> None:
    assert parse_digest(HELLO_DIGEST) == HELLO_DIGEST
    assert parse_digest(HELLO_HEX) == HELLO_DIGEST
    assert parse_digest(HELLO_HEX.upper()) == HELLO_DIGEST
    assert parse_digest("SHA256:" + HELLO_HEX) == HELLO_DIGEST


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "malformed"),
        ("sha256:", "malformed"),
        ("sha256:" + "a" * 63, "malformed"),
        ("sha256:" + "a" * 65, "malformed"),
        ("sha256:" + "g" * 64, "malformed"),
        (" " + HELLO_HEX, "malformed"),
        ("md5:d41d8cd98f00b204e9800998ecf8427e", "only sha256"),
        ("sha512:" + "a" * 128, "only sha256"),
    ],
)
def test_parse_digest_rejects(value: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why) as caught:
        parse_digest(value)
    assert caught.value.field == "digest"


def test_content_store_methods_validate_digests(content: ContentStore, tmp_path: Path) -> None:
    for operation in (
        lambda: content.exists("nope"),
        lambda: content.open("nope"),
        lambda: content.read_bytes("sha256:../../etc/passwd"),
        lambda: content.size("nope"),
        lambda: content.get_file("nope", tmp_path / "x"),
    ):
        with pytest.raises(InvalidInput, match="digest"):
            operation()


def test_file_digest_streams_and_matches_hashlib(tmp_path: Path) -> None:
    data = os.urandom(2**20 * 2 + 3)
    path = tmp_path / "f"
    path.write_bytes(data)
    assert file_digest(path) == Blob(f"sha256:{hashlib.sha256(data).hexdigest()}", len(data))
    with pytest.raises(NotFound):
        file_digest(tmp_path / "missing")


def test_put_file_refuses_a_source_rewritten_during_upload(tmp_path: Path) -> None:
    class RewritingStore(MemoryArtifactStore):
        """Another process rewrites the source between hashing and upload."""

        def put_file(self, key: str, source: Path) -> None:
            source.write_bytes(b"rewritten meanwhile")
            super().put_file(key, source)

    content = ContentStore(RewritingStore())
    source = tmp_path / "data.bin"
    source.write_bytes(HELLO)
    with pytest.raises(InvalidInput, match="changed while it was being stored"):
        content.put_file(source)
    assert not content.exists(HELLO_DIGEST)  # the mismatching object was not left behind
