"""Artifact store in an S3-compatible bucket (AWS S3, MinIO, Ceph …) through s3fs.

Every write is one whole-object upload (``PutObject``, or a multipart upload for big files), which S3
makes visible only once it completes: a killed writer leaves no object, only, for multipart uploads,
unfinished parts that a bucket lifecycle rule (``AbortIncompleteMultipartUpload``) should expire.
Credentials come from the usual AWS sources (``AWS_ACCESS_KEY_ID`` … environment variables, shared
config files, instance roles) or from ``storage_options`` passed on to ``s3fs.S3FileSystem``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, cast
from urllib.parse import urlsplit

from shipyard.errors import BackendUnavailable, ConfigError, InvalidInput, NotFound, ShipyardError
from shipyard.storage.artifacts.base import check_key


class S3ArtifactStore:
    """Objects under ``s3://<bucket>/<prefix>/``. The constructor does no network I/O."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        **storage_options: object,
    ) -> None:
        if not bucket or "/" in bucket:
            raise ConfigError(f"S3 bucket name {bucket!r} is invalid (expected a name without '/')")
        prefix = prefix.strip("/")
        if prefix:
            try:
                prefix = check_key(prefix)
            except InvalidInput as exc:
                raise ConfigError(f"S3 prefix is invalid: {exc}") from None
        try:
            import s3fs
        except ImportError:
            raise ConfigError("the S3 artifact store needs s3fs: pip install 'shipyard[s3]'") from None
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.uri = f"s3://{bucket}/{prefix}".rstrip("/")
        # Listing caches would hide objects written by other processes.
        options: dict[str, object] = {"use_listings_cache": False, "skip_instance_cache": True}
        options.update(storage_options)
        self._fs = s3fs.S3FileSystem(endpoint_url=endpoint_url, **options)

    @classmethod
    def from_url(cls, url: str, **options: str | None) -> S3ArtifactStore:
        """Build from ``s3://bucket/prefix``; ``s3_endpoint_url`` names a non-AWS server."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise ConfigError(f"artifact store {url!r} is not an S3 URL (expected s3://bucket/prefix)")
        return cls(parts.netloc, parts.path, endpoint_url=options.get("s3_endpoint_url"))

    def __repr__(self) -> str:
        return f"S3ArtifactStore({self.uri!r}, endpoint_url={self.endpoint_url!r})"

    @property
    def _endpoint(self) -> str:
        return self.endpoint_url or "the default AWS S3 endpoint"

    def _key(self, key: str) -> str:
        key = check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    # -- writes ----------------------------------------------------------------------------------

    def put_file(self, key: str, source: Path) -> None:
        s3_key = self._key(key)
        source = Path(source)
        if source.is_dir():
            raise InvalidInput(f"{source} is a folder, not a file", field="source")
        if not source.exists():
            raise NotFound(f"file {source} does not exist", field="source")
        with self._errors(s3_key, writing=True):
            self._fs.put_file(str(source), f"{self.bucket}/{s3_key}")

    def put_bytes(self, key: str, data: bytes) -> None:
        s3_key = self._key(key)
        with self._errors(s3_key, writing=True):
            self._fs.pipe_file(f"{self.bucket}/{s3_key}", data)

    # -- reads -----------------------------------------------------------------------------------

    def open(self, key: str) -> BinaryIO:
        s3_key = self._key(key)
        with self._errors(s3_key):
            file = self._fs.open(f"{self.bucket}/{s3_key}", "rb")
        if file.details.get("type") != "file":  # a "folder": other keys start with this one
            file.close()
            raise self._not_found(s3_key)
        return cast(BinaryIO, file)

    def exists(self, key: str) -> bool:
        try:
            self._head(self._key(key))
        except NotFound:
            return False
        return True

    def size(self, key: str) -> int:
        return self._head(self._key(key))

    def delete(self, key: str) -> None:
        s3_key = self._key(key)
        try:
            with self._errors(s3_key):
                self._fs.rm_file(f"{self.bucket}/{s3_key}")
        except NotFound:
            pass

    def list(self, prefix: str = "") -> Iterator[str]:
        wanted = check_key(prefix) + "/" * prefix.endswith("/") if prefix else ""
        base = f"{self.prefix}/" if self.prefix else ""
        with self._errors(base + wanted):
            names: list[str] = self._fs.find(self.bucket, prefix=base + wanted)
        strip = len(self.bucket) + 1 + len(base)
        # Keys ending in "/" are folder markers written by other tools, not artifacts.
        return iter([name[strip:] for name in names if not name.endswith("/")])

    def _head(self, s3_key: str) -> int:
        """The object's size, from one HEAD request (no listing, no cache)."""
        with self._errors(s3_key):
            response = self._fs.call_s3("head_object", Bucket=self.bucket, Key=s3_key)
        return int(response["ContentLength"])

    # -- errors ----------------------------------------------------------------------------------

    def _not_found(self, s3_key: str) -> NotFound:
        return NotFound(f"artifact s3://{self.bucket}/{s3_key} not found at {self._endpoint}", field="path")

    @contextmanager
    def _errors(self, s3_key: str, *, writing: bool = False) -> Iterator[None]:
        """Translate s3fs/botocore failures into Shipyard errors that name the bucket and endpoint."""
        from botocore.exceptions import BotoCoreError, NoCredentialsError
        from botocore.exceptions import ConnectionError as BotoConnectionError

        where = f"s3://{self.bucket}/{s3_key}"
        try:
            yield
        except ShipyardError:
            raise
        except FileNotFoundError:
            if writing:  # a write only misses when the bucket does
                raise ConfigError(f"S3 bucket {self.bucket!r} does not exist at {self._endpoint}") from None
            raise self._not_found(s3_key) from None
        except PermissionError as exc:
            raise ConfigError(
                f"{self._endpoint} denied access to {where}: {exc} (check the AWS credentials)"
            ) from exc
        except NoCredentialsError:
            raise ConfigError(
                f"no AWS credentials for {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "or pass key/secret in the storage options"
            ) from None
        except (BotoConnectionError, TimeoutError) as exc:
            raise BackendUnavailable(f"cannot reach S3 at {self._endpoint} (for {where}): {exc}") from exc
        except (OSError, BotoCoreError) as exc:
            raise BackendUnavailable(f"S3 at {self._endpoint} failed on {where}: {exc}") from exc
