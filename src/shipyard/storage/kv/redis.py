"""The production online store: Redis, one string per (namespace, entity key).

A value is stored as ``<event ts, 16 hex digits><value bytes>`` so the newest-wins rule can be
checked inside Redis: writes go in pipelined batches of 1,000 keys through a Lua script that reads
the stored values (one ``MGET``), compares their timestamp prefixes and ``MSET``s the newer rows.
A read of many keys is one ``MGET``. Keys of a namespace share the prefix
``<prefix>:<namespace>:`` (``drop`` scans it). A script touches keys of many hash slots, so this
runs on a single Redis server (or a primary with replicas), not on Redis Cluster.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, cast

from shipyard.errors import BackendUnavailable, ConfigError
from shipyard.storage.kv.base import Row, check_namespace

if TYPE_CHECKING:
    import redis as redis_module

#: Keys per script call, and script calls in flight on the connection.
BATCH = 1_000
IN_FLIGHT = 8
#: Offset making every int64 timestamp non-negative, so hex strings sort like the numbers.
_OFFSET = 1 << 63

# One MGET and one MSET per batch (not two calls per key); the batch holds each key once.
_NEWEST_WINS = """
local stored = redis.call('MGET', unpack(KEYS))
local pairs_ = {}
local n = 0
for i, key in ipairs(KEYS) do
  local current = stored[i]
  local value = ARGV[i]
  if (not current) or string.sub(current, 1, 16) <= string.sub(value, 1, 16) then
    n = n + 1
    pairs_[2 * n - 1] = key
    pairs_[2 * n] = value
  end
end
if n > 0 then redis.call('MSET', unpack(pairs_)) end
return n
"""


class RedisOnlineStore:
    def __init__(self, url: str, *, prefix: str = "shipyard") -> None:
        self.url = url
        self.prefix = prefix
        self._client: redis_module.Redis | None = None

    @classmethod
    def from_url(cls, url: str) -> RedisOnlineStore:
        return cls(url)

    def _redis(self) -> redis_module.Redis:
        if self._client is None:
            try:
                import redis
            except ImportError:
                raise ConfigError(
                    f"online store {self.url!r} needs the redis package: pip install 'shipyard[redis]'"
                ) from None
            self._client = redis.Redis.from_url(self.url, socket_connect_timeout=5, socket_timeout=30)
        return self._client

    def _prefix(self, namespace: str) -> bytes:
        return f"{self.prefix}:{check_namespace(namespace)}:".encode()

    def write(self, namespace: str, rows: Iterable[Row]) -> int:
        prefix = self._prefix(namespace)
        try:
            return self._send(_batches(prefix, rows))
        except _redis_errors() as exc:
            raise BackendUnavailable(f"online store {self.url}: cannot write {namespace!r}: {exc}") from None

    def _send(self, batches: Iterator[tuple[int, list[bytes], list[bytes]]]) -> int:
        """Pipelined ``EVALSHA`` calls, packed here in bulk (redis-py's per-argument packing
        costs more than Redis's work), with up to ``IN_FLIGHT`` calls awaiting replies."""
        client = self._redis()
        # Loaded on every call (one round trip): a restarted or flushed server has forgotten it.
        loaded = client.script_load(_NEWEST_WINS)
        sha = loaded.encode() if isinstance(loaded, str) else bytes(loaded)
        pool = client.connection_pool
        try:
            conn = pool.get_connection()
        except TypeError:  # redis-py < 5.3 wants a command name
            conn = pool.get_connection("EVALSHA")  # type: ignore[call-arg,unused-ignore]
        applied = pending = 0
        try:
            for n, keys, values in batches:
                head = b"*%d\r\n$7\r\nEVALSHA\r\n$40\r\n%s\r\n$%d\r\n%d\r\n" % (
                    3 + 2 * n,
                    sha,
                    len(str(n)),
                    n,
                )
                conn.send_packed_command(  # type: ignore[no-untyped-call]
                    [b"".join([head, *keys, *values])], check_health=pending == 0
                )
                pending += 1
                if pending >= IN_FLIGHT:
                    applied += int(conn.read_response())
                    pending -= 1
            while pending:
                applied += int(conn.read_response())
                pending -= 1
        except BaseException:
            conn.disconnect()  # type: ignore[no-untyped-call]  # replies may still be unread: never hand this socket back as is
            raise
        finally:
            pool.release(conn)
        return applied

    def read(self, namespace: str, keys: Sequence[bytes]) -> list[tuple[bytes, int] | None]:
        prefix = self._prefix(namespace)
        if not keys:
            return []
        try:
            stored = cast(list[bytes | None], self._redis().mget([prefix + key for key in keys]))
        except _redis_errors() as exc:
            raise BackendUnavailable(f"online store {self.url}: cannot read {namespace!r}: {exc}") from None
        return [None if v is None else (v[16:], int(v[:16], 16) - _OFFSET) for v in stored]

    def drop(self, namespace: str) -> None:
        pattern = self._prefix(namespace) + b"*"
        client = self._redis()
        try:
            batch: list[bytes] = []
            for key in client.scan_iter(match=pattern, count=10_000):
                batch.append(key)
                if len(batch) >= 10_000:
                    client.unlink(*batch)
                    batch = []
            if batch:
                client.unlink(*batch)
        except _redis_errors() as exc:
            raise BackendUnavailable(f"online store {self.url}: cannot drop {namespace!r}: {exc}") from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _redis_errors() -> tuple[type[Exception], ...]:
    import redis

    return (redis.ConnectionError, redis.TimeoutError, redis.ResponseError)


def _batches(prefix: bytes, rows: Iterable[Row]) -> Iterator[tuple[int, list[bytes], list[bytes]]]:
    """Batches of (key count, RESP bulk strings of the keys, of the stamped values)."""
    iterator = iter(rows)
    size = len(prefix)
    while batch := list(itertools.islice(iterator, BATCH)):
        if len({key for key, _, _ in batch}) < len(batch):
            batch = _newest_per_key(batch)
        keys = [b"$%d\r\n%s%s\r\n" % (size + len(key), prefix, key) for key, _, _ in batch]
        values = [b"$%d\r\n%016x%s\r\n" % (16 + len(value), ts + _OFFSET, value) for _, value, ts in batch]
        yield len(batch), keys, values


def _newest_per_key(batch: list[Row]) -> list[Row]:
    """A key twice in one batch: keep its newest row (a tie: the later one), since the script
    compares each row with the stored value only."""
    newest: dict[bytes, Row] = {}
    for row in batch:
        current = newest.get(row[0])
        if current is None or current[2] <= row[2]:
            newest[row[0]] = row
    return list(newest.values())
