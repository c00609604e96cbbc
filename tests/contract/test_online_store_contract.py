"""One behavioural suite for the OnlineStore port, run on SQLite, in memory and on Redis.

Redis comes from ``SHIPYARD_TEST_REDIS_URL``; when unset or unreachable the Redis class skips
(and fails under ``CI=true``).
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.errors import BackendUnavailable, ConfigError, InvalidInput
from shipyard.storage.kv import OnlineStore, open_online_store
from shipyard.storage.kv.memory import MemoryOnlineStore
from shipyard.storage.kv.redis import RedisOnlineStore
from shipyard.storage.kv.sqlite import SqliteOnlineStore
from support.databases import drop_redis_prefix, new_redis_prefix, redis_server_url


class OnlineStoreContract:
    @pytest.fixture
    def store(self) -> OnlineStore:
        raise NotImplementedError("a backend's test class provides the store fixture")

    def test_is_an_online_store(self, store: OnlineStore) -> None:
        assert isinstance(store, OnlineStore)

    def test_round_trip(self, store: OnlineStore) -> None:
        assert store.write("v1", [(b"k1", b"value-1", 100), (b"k2", b"", 200)]) == 2
        assert store.read("v1", [b"k1", b"k2"]) == [(b"value-1", 100), (b"", 200)]

    def test_missing_keys_and_namespaces_read_as_none(self, store: OnlineStore) -> None:
        store.write("v1", [(b"k1", b"a", 1)])
        assert store.read("v1", [b"nope", b"k1", b"other"]) == [None, (b"a", 1), None]
        assert store.read("never_written", [b"k1", b"k2"]) == [None, None]
        assert store.read("v1", []) == []

    def test_newer_event_wins_and_older_is_ignored(self, store: OnlineStore) -> None:
        store.write("v", [(b"k", b"t10", 10)])
        assert store.write("v", [(b"k", b"t5", 5)]) == 0
        assert store.read("v", [b"k"]) == [(b"t10", 10)]
        assert store.write("v", [(b"k", b"t20", 20)]) == 1
        assert store.read("v", [b"k"]) == [(b"t20", 20)]

    def test_a_tie_goes_to_the_later_write(self, store: OnlineStore) -> None:
        store.write("v", [(b"k", b"first", 10)])
        assert store.write("v", [(b"k", b"second", 10)]) == 1
        assert store.read("v", [b"k"]) == [(b"second", 10)]

    def test_newest_wins_inside_one_batch_whatever_the_order(self, store: OnlineStore) -> None:
        store.write("v", [(b"a", b"new", 9), (b"a", b"old", 3), (b"b", b"old", 3), (b"b", b"new", 9)])
        assert store.read("v", [b"a", b"b"]) == [(b"new", 9), (b"new", 9)]

    def test_rewriting_the_same_rows_is_idempotent(self, store: OnlineStore) -> None:
        rows = [(f"k{i}".encode(), f"v{i}".encode(), 1_700_000_000_000 + i) for i in range(50)]
        store.write("v", rows)
        first = store.read("v", [k for k, _, _ in rows])
        store.write("v", reversed(rows))
        assert store.read("v", [k for k, _, _ in rows]) == first

    def test_negative_and_large_timestamps_compare_as_numbers(self, store: OnlineStore) -> None:
        store.write("v", [(b"k", b"big", 2**62)])
        store.write("v", [(b"k", b"neg", -5)])
        assert store.read("v", [b"k"]) == [(b"big", 2**62)]
        store.write("v", [(b"n", b"a", -10)])
        store.write("v", [(b"n", b"b", -2)])
        assert store.read("v", [b"n"]) == [(b"b", -2)]

    def test_namespaces_are_isolated(self, store: OnlineStore) -> None:
        store.write("a", [(b"k", b"in-a", 1)])
        store.write("a.b", [(b"k", b"in-a.b", 1)])
        store.write("a_b", [(b"k", b"in-a_b", 1)])
        assert store.read("a", [b"k"]) == [(b"in-a", 1)]
        assert store.read("a.b", [b"k"]) == [(b"in-a.b", 1)]
        store.drop("a")
        assert store.read("a", [b"k"]) == [None]
        assert store.read("a.b", [b"k"]) == [(b"in-a.b", 1)]
        assert store.read("a_b", [b"k"]) == [(b"in-a_b", 1)]

    def test_drop_then_write_again(self, store: OnlineStore) -> None:
        store.drop("never_written")
        store.write("v", [(b"k", b"x", 50)])
        store.drop("v")
        assert store.write("v", [(b"k", b"y", 1)]) == 1  # the old, newer value is gone
        assert store.read("v", [b"k"]) == [(b"y", 1)]

    def test_binary_unicode_and_composite_keys(self, store: OnlineStore) -> None:
        keys = [
            b"\x00",
            b"\x00\x00",
            "café/東京".encode(),
            b"s\x00\x00\x00\x03abci\x00\x00\x00\x00\x00\x00\x00\x07",
            b"\xff" * 300,
        ]
        store.write("v", [(k, k[::-1] + b"\x00", i) for i, k in enumerate(keys)])
        assert store.read("v", keys) == [(k[::-1] + b"\x00", i) for i, k in enumerate(keys)]

    def test_large_batches_keep_order(self, store: OnlineStore) -> None:
        rows = [(i.to_bytes(4, "big"), b"v%d" % i, i) for i in range(25_000)]
        assert store.write("big", iter(rows)) == len(rows)
        keys = [k for k, _, _ in rows]
        random.Random(1).shuffle(keys)
        got = store.read("big", [*keys[:3_000], b"missing", *keys[:2]])
        expected = [(b"v%d" % int.from_bytes(k, "big"), int.from_bytes(k, "big")) for k in keys[:3_000]]
        assert got == [*expected, None, expected[0], expected[1]]

    def test_concurrent_writers_keep_the_newest_value(self, store: OnlineStore) -> None:
        keys = [b"k%d" % i for i in range(300)]
        errors: list[BaseException] = []

        def writer(seed: int) -> None:
            try:
                rng = random.Random(seed)
                for _ in range(5):
                    stamps = [rng.randrange(1_000) for _ in keys]
                    store.write("c", [(k, b"%d" % ts, ts) for k, ts in zip(keys, stamps, strict=True)])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        expected = {k: 0 for k in keys}
        for seed in range(4):
            rng = random.Random(seed)
            for _ in range(5):
                for k in keys:
                    expected[k] = max(expected[k], rng.randrange(1_000))
        assert store.read("c", keys) == [(b"%d" % expected[k], expected[k]) for k in keys]

    def test_close_keeps_the_values_and_the_store_usable(self, store: OnlineStore) -> None:
        store.write("v", [(b"k", b"x", 1)])
        store.close()
        assert store.read("v", [b"k"]) == [(b"x", 1)]

    def test_bad_namespace_is_refused(self, store: OnlineStore) -> None:
        for bad in ("", "a b", 'x"; drop table', "a*", "a:b", "x" * 201):
            with pytest.raises(InvalidInput):
                store.write(bad, [(b"k", b"v", 1)])
            with pytest.raises(InvalidInput):
                store.read(bad, [b"k"])


class TestMemoryOnlineStore(OnlineStoreContract):
    @pytest.fixture
    def store(self) -> Iterator[OnlineStore]:
        store = open_online_store("memory://")
        assert isinstance(store, MemoryOnlineStore)
        yield store
        store.close()


class TestSqliteOnlineStore(OnlineStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[OnlineStore]:
        store = open_online_store(str(tmp_path / "sub" / "online.db"))
        assert isinstance(store, SqliteOnlineStore)
        yield store
        store.close()

    def test_values_survive_reopening(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'o.db'}"
        first = open_online_store(url)
        first.write("v", [(b"k", b"kept", 7)])
        first.close()
        second = open_online_store(url)
        assert second.read("v", [b"k"]) == [(b"kept", 7)]
        second.close()

    def test_two_handles_on_one_file_write_concurrently(self, tmp_path: Path) -> None:
        a, b = SqliteOnlineStore(tmp_path / "o.db"), SqliteOnlineStore(tmp_path / "o.db")
        done: list[int] = []

        def write(store: SqliteOnlineStore, ts: int) -> None:
            for i in range(20):
                done.append(store.write("v", [(b"k%d" % j, b"%d" % ts, ts + i) for j in range(200)]))

        threads = [
            threading.Thread(target=write, args=(a, 1_000)),
            threading.Thread(target=write, args=(b, 0)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(done) == 40
        assert a.read("v", [b"k0"]) == [(b"1000", 1_019)]
        a.close()
        b.close()

    def test_processes_writing_one_file_wait_for_each_other(self, tmp_path: Path) -> None:
        script = (
            "import sys\n"
            "from shipyard.storage.kv.sqlite import SqliteOnlineStore\n"
            "store = SqliteOnlineStore(sys.argv[1])\n"
            "base = int(sys.argv[2])\n"
            "for i in range(30):\n"
            "    store.write('v', [(b'k%d' % j, b'%d' % (base + i), base + i) for j in range(2000)])\n"
        )
        children = [
            subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "o.db"), str(base)])
            for base in (0, 1_000, 500)
        ]
        assert [child.wait(timeout=120) for child in children] == [0, 0, 0]
        store = SqliteOnlineStore(tmp_path / "o.db")
        assert store.read("v", [b"k0", b"k1999"]) == [(b"1029", 1_029), (b"1029", 1_029)]
        store.close()

    def test_a_closed_store_reconnects_on_next_use(self, tmp_path: Path) -> None:
        store = SqliteOnlineStore(tmp_path / "o.db")
        store.write("v", [(b"k", b"x", 1)])
        store.close()
        assert store.read("v", [b"k"]) == [(b"x", 1)]
        store.close()

    def test_an_unwritable_location_is_backend_unavailable(self, tmp_path: Path) -> None:
        (tmp_path / "file").write_text("not a folder")
        with pytest.raises(BackendUnavailable, match="cannot open the online store"):
            SqliteOnlineStore(tmp_path / "file" / "o.db").read("v", [b"k"])

    def test_in_memory_sqlite_is_refused(self) -> None:
        with pytest.raises(ConfigError):
            open_online_store("sqlite:///:memory:")


@pytest.fixture(scope="module")
def redis_url() -> str:
    return redis_server_url()


class TestRedisOnlineStore(OnlineStoreContract):
    @pytest.fixture
    def store(self, redis_url: str) -> Iterator[OnlineStore]:
        prefix = new_redis_prefix()
        store = RedisOnlineStore(redis_url, prefix=prefix)
        yield store
        store.close()
        drop_redis_prefix(redis_url, prefix)

    def test_opened_by_scheme(self, redis_url: str) -> None:
        assert isinstance(open_online_store(redis_url), RedisOnlineStore)

    def test_unreachable_server_is_backend_unavailable(self) -> None:
        store = open_online_store("redis://127.0.0.1:1/0")
        with pytest.raises(BackendUnavailable, match=r"127\.0\.0\.1:1\b"):
            store.read("v", [b"k"])
        with pytest.raises(BackendUnavailable):
            store.write("v", [(b"k", b"v", 1)])


def test_unknown_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown online store scheme 'ftp' \(known: memory://, redis://"):
        open_online_store("ftp://x")
    with pytest.raises(ConfigError, match="empty"):
        open_online_store(" ")
