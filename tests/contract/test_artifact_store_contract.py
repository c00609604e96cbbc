"""One behavioural suite for the ArtifactStore port, run against every backend.

A backend's test class subclasses :class:`ArtifactStoreContract` and provides the ``store`` fixture;
backend-specific behaviour (symlinks, connection failures …) is tested in that subclass.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.errors import BackendUnavailable, ConfigError, InvalidInput, NotFound
from shipyard.storage.artifacts import ArtifactStore, open_store
from shipyard.storage.artifacts.local import LocalArtifactStore
from shipyard.storage.artifacts.memory import MemoryArtifactStore
from shipyard.storage.artifacts.s3 import S3ArtifactStore

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens
ONE_ATTEMPT: dict[str, object] = {"retries": {"max_attempts": 1}}
BAD_KEYS = ["../x", "/etc/passwd", "a/../../b", "a\\b", "", ".", "a/..", "C:/x", "x\x00y"]

OPERATIONS: dict[str, Callable[[ArtifactStore, str, Path], object]] = {
    "put_bytes": lambda store, key, _: store.put_bytes(key, b"x"),
    "put_file": lambda store, key, source: store.put_file(key, source),
    "open": lambda store, key, _: store.open(key),
    "exists": lambda store, key, _: store.exists(key),
    "size": lambda store, key, _: store.size(key),
    "delete": lambda store, key, _: store.delete(key),
}


def _read(store: ArtifactStore, key: str) -> bytes:
    with store.open(key) as reader:
        return reader.read()


class ArtifactStoreContract:
    """Behaviour every backend must have."""

    @pytest.fixture
    def store(self) -> ArtifactStore:
        raise NotImplementedError("a backend's test class provides the store fixture")

    def test_is_an_artifact_store(self, store: ArtifactStore) -> None:
        assert isinstance(store, ArtifactStore)
        assert isinstance(store.uri, str) and store.uri

    def test_bytes_round_trip(self, store: ArtifactStore) -> None:
        store.put_bytes("models/m1/weights.bin", b"\x00\x01binary\xff")
        assert _read(store, "models/m1/weights.bin") == b"\x00\x01binary\xff"

    def test_empty_object_round_trip(self, store: ArtifactStore) -> None:
        store.put_bytes("empty", b"")
        assert store.exists("empty")
        assert store.size("empty") == 0
        assert _read(store, "empty") == b""

    def test_file_round_trip(self, store: ArtifactStore, tmp_path: Path) -> None:
        source = tmp_path / "data.csv"
        source.write_bytes(b"a,b\n1,2\n")
        store.put_file("datasets/d.csv", source)
        assert _read(store, "datasets/d.csv") == b"a,b\n1,2\n"
        assert source.read_bytes() == b"a,b\n1,2\n"  # the source is left alone

    def test_open_returns_a_binary_file(self, store: ArtifactStore) -> None:
        store.put_bytes("k", b"0123456789")
        with store.open("k") as reader:
            assert reader.read(4) == b"0123"
            assert reader.read() == b"456789"
            assert reader.read() == b""

    def test_overwrite_replaces_the_object(self, store: ArtifactStore) -> None:
        store.put_bytes("k", b"first version, longer")
        store.put_bytes("k", b"second")
        assert _read(store, "k") == b"second"
        assert store.size("k") == len(b"second")

    def test_exists_size_delete(self, store: ArtifactStore) -> None:
        assert not store.exists("a/b")
        store.put_bytes("a/b", b"12345")
        assert store.exists("a/b")
        assert store.size("a/b") == 5
        store.delete("a/b")
        assert not store.exists("a/b")
        with pytest.raises(NotFound):
            store.size("a/b")

    def test_delete_absent_key_is_not_an_error(self, store: ArtifactStore) -> None:
        store.delete("never/written")

    def test_a_folder_is_not_an_object(self, store: ArtifactStore) -> None:
        store.put_bytes("dir/file", b"x")
        assert not store.exists("dir")
        with pytest.raises(NotFound):
            store.open("dir")
        with pytest.raises(NotFound):
            store.size("dir")

    def test_missing_object_raises_not_found_naming_it(self, store: ArtifactStore) -> None:
        with pytest.raises(NotFound, match="no/such/key"):
            store.open("no/such/key")
        with pytest.raises(NotFound, match="no/such/key"):
            store.size("no/such/key")

    def test_put_file_of_missing_source_stores_nothing(self, store: ArtifactStore, tmp_path: Path) -> None:
        with pytest.raises(NotFound, match=r"missing\.bin"):
            store.put_file("k", tmp_path / "missing.bin")
        assert not store.exists("k")

    def test_list_by_key_prefix(self, store: ArtifactStore) -> None:
        for key in ["a/1", "a/2", "a/sub/3", "ab/4", "b/5"]:
            store.put_bytes(key, b"x")
        assert sorted(store.list()) == ["a/1", "a/2", "a/sub/3", "ab/4", "b/5"]
        assert sorted(store.list("a/")) == ["a/1", "a/2", "a/sub/3"]
        assert sorted(store.list("a")) == ["a/1", "a/2", "a/sub/3", "ab/4"]
        assert sorted(store.list("a/s")) == ["a/sub/3"]
        assert sorted(store.list("a/1")) == ["a/1"]
        assert list(store.list("zzz")) == []
        assert list(store.list("zzz/")) == []

    def test_list_on_an_empty_store(self, store: ArtifactStore) -> None:
        assert list(store.list()) == []

    def test_keys_are_normalised(self, store: ArtifactStore) -> None:
        store.put_bytes("a//b/./c", b"x")
        assert store.exists("a/b/c")
        assert list(store.list()) == ["a/b/c"]

    @pytest.fixture
    def key_store(self, store: ArtifactStore) -> ArtifactStore:
        """The store the pure key checks run on (a backend with a server gives one that cannot
        reach it: keys must be refused before any request)."""
        return store

    def assert_nothing_stored(self, store: ArtifactStore) -> None:
        assert list(store.list()) == []

    @pytest.mark.parametrize("operation", sorted(OPERATIONS))
    @pytest.mark.parametrize("key", BAD_KEYS)
    def test_escaping_keys_are_rejected(
        self, key_store: ArtifactStore, tmp_path: Path, operation: str, key: str
    ) -> None:
        source = tmp_path / "source.bin"
        source.write_bytes(b"payload")
        with pytest.raises(InvalidInput) as caught:
            OPERATIONS[operation](key_store, key, source)
        assert caught.value.field == "path"
        self.assert_nothing_stored(key_store)

    @pytest.mark.parametrize("prefix", ["../", "/etc", "a/../../b", "a\\b"])
    def test_escaping_list_prefixes_are_rejected(self, key_store: ArtifactStore, prefix: str) -> None:
        with pytest.raises(InvalidInput):
            list(key_store.list(prefix))

    def test_big_file_round_trip(self, store: ArtifactStore, tmp_path: Path) -> None:
        source = tmp_path / "big.bin"
        data = os.urandom(20 * 2**20)
        source.write_bytes(data)
        store.put_file("big/file.bin", source)
        assert store.size("big/file.bin") == len(data)
        digest = hashlib.sha256()
        with store.open("big/file.bin") as reader:
            while chunk := reader.read(2**20):
                digest.update(chunk)
        assert digest.hexdigest() == hashlib.sha256(data).hexdigest()


class TestLocalArtifactStore(ArtifactStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalArtifactStore:
        return LocalArtifactStore(tmp_path / "store")

    def test_constructor_does_no_io(self, tmp_path: Path) -> None:
        store = LocalArtifactStore(tmp_path / "not" / "yet")
        assert not (tmp_path / "not").exists()
        assert not store.exists("k")
        assert list(store.list()) == []
        store.put_bytes("k", b"x")
        assert (tmp_path / "not" / "yet" / "k").read_bytes() == b"x"

    def test_uri_is_a_file_url(self, tmp_path: Path) -> None:
        assert LocalArtifactStore(tmp_path).uri == tmp_path.as_uri()

    def test_rejected_key_writes_nothing_outside_the_root(self, store: LocalArtifactStore) -> None:
        with pytest.raises(InvalidInput):
            store.put_bytes("../escaped", b"x")
        assert not (store.root.parent / "escaped").exists()

    def test_symlinked_folder_cannot_lead_outside(self, store: LocalArtifactStore, tmp_path: Path) -> None:
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "secret").write_bytes(b"secret")
        store.put_bytes("inside", b"x")
        (store.root / "link").symlink_to(outside, target_is_directory=True)
        for operation in (
            lambda: store.put_bytes("link/planted", b"x"),
            lambda: store.open("link/secret"),
            lambda: store.exists("link/secret"),
            lambda: store.size("link/secret"),
            lambda: store.delete("link/secret"),
            lambda: list(store.list("link/")),
        ):
            with pytest.raises(InvalidInput, match="outside the store root"):
                operation()
        assert not (outside / "planted").exists()
        assert (outside / "secret").read_bytes() == b"secret"
        assert list(store.list()) == ["inside"]

    def test_symlinked_file_cannot_lead_outside(self, store: LocalArtifactStore, tmp_path: Path) -> None:
        target = tmp_path / "target"
        target.write_bytes(b"not an artifact")
        store.put_bytes("inside", b"x")
        (store.root / "leak").symlink_to(target)
        with pytest.raises(InvalidInput, match="outside the store root"):
            store.open("leak")
        assert list(store.list()) == ["inside"]

    def test_writes_go_through_tmp_and_leave_nothing_there(self, store: LocalArtifactStore) -> None:
        store.put_bytes("a/b", b"x")
        assert (store.root / ".tmp").is_dir()
        assert list((store.root / ".tmp").iterdir()) == []

    def test_list_never_yields_partial_writes(self, store: LocalArtifactStore) -> None:
        store.put_bytes("real", b"x")
        (store.root / ".tmp" / "orphan-of-a-killed-writer").write_bytes(b"partial")
        assert list(store.list()) == ["real"]
        assert list(store.list(".t")) == []

    def test_tmp_is_reserved(self, store: LocalArtifactStore) -> None:
        with pytest.raises(InvalidInput, match="reserved"):
            store.put_bytes(".tmp/x", b"x")

    def test_failed_write_leaves_no_temporary_file(self, store: LocalArtifactStore) -> None:
        store.put_bytes("taken/child", b"x")
        with pytest.raises(InvalidInput):
            store.put_bytes("taken", b"a folder is in the way")
        assert list((store.root / ".tmp").iterdir()) == []

    def test_open_store_with_a_path_and_a_file_url(self, tmp_path: Path) -> None:
        by_path = open_store(str(tmp_path / "s"))
        by_url = open_store((tmp_path / "s").as_uri())
        assert isinstance(by_path, LocalArtifactStore)
        assert isinstance(by_url, LocalArtifactStore)
        by_path.put_bytes("k", b"shared")
        assert _read(by_url, "k") == b"shared"

    def test_open_store_rejects_a_remote_file_url(self) -> None:
        with pytest.raises(ConfigError, match="file://elsewhere/x"):
            open_store("file://elsewhere/x")


class TestMemoryArtifactStore(ArtifactStoreContract):
    @pytest.fixture
    def store(self) -> MemoryArtifactStore:
        return MemoryArtifactStore()

    def test_instances_are_separate(self) -> None:
        first, second = MemoryArtifactStore(), MemoryArtifactStore()
        first.put_bytes("k", b"x")
        assert not second.exists("k")
        assert first.uri != second.uri

    def test_stored_bytes_do_not_follow_the_callers_buffer(self, store: MemoryArtifactStore) -> None:
        buffer = bytearray(b"before")
        store.put_bytes("k", buffer)  # type: ignore[arg-type]  # callers do pass bytearrays
        buffer[:] = b"after!"
        assert _read(store, "k") == b"before"

    def test_concurrent_writers_and_readers(self, store: MemoryArtifactStore) -> None:
        errors: list[BaseException] = []

        def work(worker: int) -> None:
            try:
                for i in range(200):
                    store.put_bytes(f"w{worker}/{i}", bytes([worker]) * 64)
                    assert _read(store, f"w{worker}/{i}") == bytes([worker]) * 64
                    list(store.list())
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(list(store.list())) == 8 * 200

    def test_open_store_memory_url(self) -> None:
        assert isinstance(open_store("memory://"), MemoryArtifactStore)


@pytest.mark.s3
class TestS3ArtifactStore(ArtifactStoreContract):
    @pytest.fixture
    def store(self, s3_server: str, s3_bucket: str) -> S3ArtifactStore:
        return S3ArtifactStore(s3_bucket, prefix="team/artifacts", endpoint_url=s3_server)

    @pytest.fixture
    def key_store(self) -> S3ArtifactStore:
        # Nothing listens there: a request would raise BackendUnavailable, not InvalidInput.
        return S3ArtifactStore(
            "bucket", prefix="team/artifacts", endpoint_url=UNREACHABLE, config_kwargs=ONE_ATTEMPT
        )

    def assert_nothing_stored(self, store: ArtifactStore) -> None:
        """Refused before any request reached the (unreachable) endpoint, so nothing was sent."""

    def test_uri_names_bucket_and_prefix(self, store: S3ArtifactStore, s3_bucket: str) -> None:
        assert store.uri == f"s3://{s3_bucket}/team/artifacts"

    def test_objects_live_under_the_prefix(
        self, store: S3ArtifactStore, s3_server: str, s3_bucket: str
    ) -> None:
        import boto3

        store.put_bytes("a/b", b"x")
        listed = boto3.client("s3", endpoint_url=s3_server).list_objects_v2(Bucket=s3_bucket)
        assert [obj["Key"] for obj in listed["Contents"]] == ["team/artifacts/a/b"]

    def test_prefixes_isolate_stores(self, s3_server: str, s3_bucket: str) -> None:
        first = S3ArtifactStore(s3_bucket, prefix="one", endpoint_url=s3_server)
        second = S3ArtifactStore(s3_bucket, prefix="one-more", endpoint_url=s3_server)
        first.put_bytes("k", b"1")
        second.put_bytes("k", b"2")
        assert list(first.list()) == ["k"]
        assert _read(first, "k") == b"1"
        assert _read(second, "k") == b"2"

    def test_folder_markers_are_not_listed(
        self, store: S3ArtifactStore, s3_server: str, s3_bucket: str
    ) -> None:
        import boto3

        boto3.client("s3", endpoint_url=s3_server).put_object(
            Bucket=s3_bucket, Key="team/artifacts/folder/", Body=b""
        )
        store.put_bytes("folder/real", b"x")
        assert list(store.list()) == ["folder/real"]

    def test_open_store_s3_url(self, s3_server: str, s3_bucket: str) -> None:
        store = open_store(f"s3://{s3_bucket}/via/url", s3_endpoint_url=s3_server)
        assert isinstance(store, S3ArtifactStore)
        assert (store.bucket, store.prefix, store.endpoint_url) == (s3_bucket, "via/url", s3_server)
        store.put_bytes("k", b"x")
        assert _read(store, "k") == b"x"

    def test_missing_bucket(self, s3_server: str) -> None:
        store = S3ArtifactStore("no-such-bucket-here", endpoint_url=s3_server)
        with pytest.raises(ConfigError, match="'no-such-bucket-here' does not exist"):
            store.put_bytes("k", b"x")
        with pytest.raises(NotFound):
            store.open("k")
        assert not store.exists("k")

    def test_unreachable_endpoint_is_backend_unavailable(self) -> None:
        endpoint = UNREACHABLE
        started = time.monotonic()
        store = S3ArtifactStore("bucket", endpoint_url=endpoint, config_kwargs=ONE_ATTEMPT)
        assert time.monotonic() - started < 1, "the constructor must not connect"
        for operation in (
            lambda: store.exists("k"),
            lambda: store.put_bytes("k", b"x"),
            lambda: store.open("k"),
            lambda: list(store.list()),
        ):
            with pytest.raises(BackendUnavailable, match=endpoint):
                operation()

    def test_missing_s3fs_is_a_config_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "s3fs", None)  # makes `import s3fs` fail
        with pytest.raises(ConfigError, match=r"pip install 'shipyard\[s3\]'"):
            S3ArtifactStore("bucket")

    @pytest.mark.parametrize("bucket", ["", "a/b"])
    def test_invalid_bucket_is_a_config_error(self, bucket: str) -> None:
        with pytest.raises(ConfigError, match="bucket"):
            S3ArtifactStore(bucket)


class TestOpenStore:
    @pytest.mark.parametrize("location", ["gs://bucket/x", "ftp://host/x"])
    def test_unknown_scheme_is_a_config_error_naming_it(self, location: str) -> None:
        scheme = location.split(":")[0]
        with pytest.raises(
            ConfigError, match=f"unknown artifact store scheme '{scheme}' \\(known: file://, memory://, s3://"
        ):
            open_store(location)

    @pytest.mark.parametrize("location", ["", "   ", "s3://", "s3:///prefix-without-bucket"])
    def test_incomplete_locations_are_config_errors(self, location: str) -> None:
        with pytest.raises(ConfigError):
            open_store(location)

    def test_importing_the_package_does_no_io_and_loads_no_backend(self) -> None:
        import subprocess

        code = (
            "import sys, shipyard.storage.artifacts as a; "
            "assert not any(m in sys.modules for m in ("
            "'shipyard.storage.artifacts.s3', 'shipyard.storage.artifacts.local', 's3fs', 'boto3')), "
            "sorted(m for m in sys.modules if 'artifacts.' in m or 's3' in m)"
        )
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
