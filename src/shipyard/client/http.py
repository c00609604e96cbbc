"""One connection to a Shipyard server (``/api/v1``), shared by the remote clients of the SDK.

Error envelopes (``{"error": {"type", "message", "field"}}``) are raised again as the
:mod:`shipyard.errors` class named by ``type``; a server that cannot be reached is :class:`~shipyard.errors.BackendUnavailable`.

Connection failures are retried a few times with a short backoff for idempotent requests (GET, and
writes the caller marks idempotent, such as metric batches that carry a ``batch_id``); other writes
are retried only when the connection could not be opened at all, so nothing was sent. Transfers are
streamed and carry the content's SHA-256 digest, which the receiving side checks.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self, TypedDict, TypeVar, Unpack
from urllib.parse import quote

import httpx

from shipyard.errors import (
    BackendUnavailable,
    Conflict,
    CorruptArtifact,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ShipyardError,
    Unauthenticated,
    error_class,
)
from shipyard.storage.artifacts.content import file_digest, write_atomically

T = TypeVar("T")

API_PREFIX = "/api/v1"
DIGEST_HEADER = "X-Content-SHA256"
CHUNK = 1 << 20
ATTEMPTS = 3
BACKOFF = 0.1  # seconds before the 2nd attempt; multiplied by 4 for each further one

Params = Mapping[str, str | int | Sequence[str | int]]

#: A decoded JSON object.
Json = dict[str, Any]


_BY_STATUS: dict[int, type[ShipyardError]] = {
    400: InvalidInput,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: InvalidInput,
    422: InvalidInput,
    502: BackendUnavailable,
    503: BackendUnavailable,
    504: BackendUnavailable,
}


def error(status: int, body: object, where: str) -> ShipyardError:
    """The exception an error response stands for; ``where`` (method and URL) names a bare failure."""
    detail = body.get("error") if isinstance(body, dict) else None
    if isinstance(detail, dict) and isinstance(detail.get("message"), str):
        cls = error_class(str(detail.get("type"))) or _BY_STATUS.get(status, ShipyardError)
        field = detail.get("field")
        return cls(detail["message"], field=field if isinstance(field, str) else None)
    cls = _BY_STATUS.get(status, ShipyardError)
    return cls(f"{where} answered HTTP {status}")


class Request(TypedDict, total=False):
    """The optional parts of a request, as :meth:`ServerConnection.send` takes them."""

    json: object
    params: Params | None
    content: bytes | None
    headers: Mapping[str, str] | None
    idempotent: bool | None


def segment(value: str) -> str:
    """One URL path segment; ``.``/``..`` are escaped so no HTTP library collapses them."""
    quoted = quote(value, safe="")
    return quoted.replace(".", "%2E") if set(value) == {"."} else quoted


def path_of(value: str) -> str:
    """A slash-separated path (artifact path) with each segment escaped as by :func:`segment`."""
    return "/".join(segment(part) for part in value.split("/"))


class ServerConnection:
    """One keep-alive HTTP connection pool to a Shipyard server (see the module docstring)."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.has_token = bool(token)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.url + API_PREFIX, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"ServerConnection({self.url!r})"

    def json(self, method: str, path: str, **request: Unpack[Request]) -> Json:
        """The JSON body of the successful response to a request (as :meth:`send`)."""
        body: Json = self.send(method, path, **request).json()
        return body

    def send(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: Params | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """The successful response to a request; ``idempotent`` defaults to ``method == "GET"``."""
        safe = method == "GET" if idempotent is None else idempotent

        def call() -> httpx.Response:
            return self._http.request(
                method, path, json=json, params=params, content=content, headers=headers
            )

        return self._checked(self._retrying(method, path, call, idempotent=safe))

    def upload(self, path: str, source: Path) -> httpx.Response:
        """PUT the file ``source``, streamed, with its digest (which the server checks)."""
        headers = {
            DIGEST_HEADER: file_digest(source).digest,
            "Content-Length": str(source.stat().st_size),
            "Content-Type": "application/octet-stream",
        }

        def call() -> httpx.Response:
            with open(source, "rb") as stream:
                return self._http.put(path, content=iter(lambda: stream.read(CHUNK), b""), headers=headers)

        return self._checked(self._retrying("PUT", path, call, idempotent=False))

    def download(self, path: str, dest: Path, expected_digest: str | None) -> Path:
        """Stream to a temporary file next to ``dest``, verify the digest (``expected_digest``, else
        the one the server sends), then rename into place; on any failure ``dest`` is left as it was."""
        return self._retrying(
            "GET", path, lambda: self._download_once(path, dest, expected_digest), idempotent=True
        )

    def read_verified(self, path: str, expected_digest: str) -> bytes:
        """The bytes at ``path``, verified while streaming and again on the bytes returned."""
        with tempfile.TemporaryDirectory(prefix="shipyard-download-") as folder:
            data = self.download(path, Path(folder) / "content", expected_digest).read_bytes()
        if "sha256:" + hashlib.sha256(data).hexdigest() != expected_digest:
            raise CorruptArtifact(
                f"the content of {path} does not match its digest {expected_digest}", field="digest"
            )
        return data

    def _checked(self, response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        try:
            body: object = response.json()
        except ValueError:
            body = None
        failure = error(response.status_code, body, f"{response.request.method} {response.request.url}")
        if isinstance(failure, Unauthenticated) and not self.has_token:
            raise Unauthenticated(
                f"{failure.message} (no token was sent: set SHIPYARD_TOKEN, e.g. from "
                "`shipyard tokens create USER` on the server's machine)",
                field=failure.field,
            )
        raise failure

    def _retrying(self, method: str, path: str, call: Callable[[], T], *, idempotent: bool) -> T:
        """Run ``call``, retrying transport failures (all of them if ``idempotent``, else only
        failures to connect, when nothing was sent) and turning the last into BackendUnavailable."""
        for attempt in range(ATTEMPTS):
            try:
                return call()
            except httpx.TransportError as exc:
                retry = idempotent or isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if not retry or attempt == ATTEMPTS - 1:
                    raise self._unavailable(method, path, exc) from None
            time.sleep(BACKOFF * 4**attempt)
        raise AssertionError("unreachable")

    def _unavailable(self, method: str, path: str, exc: httpx.TransportError) -> BackendUnavailable:
        if isinstance(exc, httpx.TimeoutException):
            reason = f"no answer within {self._http.timeout.read}s"
        else:
            reason = str(exc) or type(exc).__name__
        return BackendUnavailable(
            f"cannot reach the Shipyard server at {self.url} ({method} {path}): {reason}"
        )

    def _download_once(self, path: str, dest: Path, expected: str | None) -> Path:
        with self._http.stream("GET", path) as response:
            if not response.is_success:
                response.read()
                self._checked(response)
            wanted = expected or response.headers.get(DIGEST_HEADER, "").lower() or None
            if wanted is None:
                raise CorruptArtifact(
                    f"the server sent no {DIGEST_HEADER} header; cannot verify", field="digest"
                )

            def verify(received: str) -> None:
                if received != wanted:
                    raise CorruptArtifact(
                        f"downloaded content is corrupt: expected {wanted}, received {received}",
                        field="digest",
                    )

            return write_atomically(response.iter_bytes(CHUNK), dest, verify)


class RemoteClient:
    """What every remote client shares: a :class:`ServerConnection` given by the caller (who closes
    it) or opened from ``url`` and ``token`` (closed with this client)."""

    def __init__(
        self,
        url: str | ServerConnection,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._owns_connection = not isinstance(url, ServerConnection)
        self.connection = (
            url
            if isinstance(url, ServerConnection)
            else ServerConnection(url, token, timeout=timeout, transport=transport)
        )

    @property
    def url(self) -> str:
        return self.connection.url

    def close(self) -> None:
        if self._owns_connection:
            self.connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
