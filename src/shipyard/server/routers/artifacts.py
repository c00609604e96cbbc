"""Artifact routes: upload (streamed to the content store), list, and streamed downloads.

Uploads are ``PUT /api/v1/runs/{run_id}/artifacts/{path}`` with the raw bytes as the body and,
optionally, ``X-Content-SHA256: sha256:<hex>``; when the bytes do not match that digest nothing is
stored and the answer is 422 (type ``CorruptArtifact``). Downloads carry the content's digest in
``X-Content-SHA256`` so the client can verify what it received.
"""

from __future__ import annotations

import io
import logging
import posixpath
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, BinaryIO
from urllib.parse import quote

from anyio import from_thread
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from shipyard.app import App
from shipyard.errors import CorruptArtifact, NotFound
from shipyard.server import tracking_schemas as s
from shipyard.server.deps import Metrics, Shipyard, Tracking, authorize
from shipyard.server.errors import error_response
from shipyard.storage.artifacts.content import parse_digest

logger = logging.getLogger("shipyard.server")

router = APIRouter(prefix="/api/v1", tags=["artifacts"])

READ = [Depends(authorize("artifacts.read"))]
READ_RUN = [Depends(authorize("artifacts.read", run="run_id"))]
WRITE_RUN = [Depends(authorize("artifacts.write", run="run_id"))]
DIGEST_HEADER = "X-Content-SHA256"
CHUNK = 1 << 20


class _RequestBody(io.RawIOBase):
    """The request body as a blocking file for a worker thread; each read asks the event loop for
    the next chunk, so the upload streams through without being held in memory."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")
        self._done = False

    def readable(self) -> bool:
        return True

    async def _next(self) -> bytes:
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            self._done = True
            return b""

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._done:
            self._pending = memoryview(from_thread.run(self._next))
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


@router.put(
    "/runs/{run_id}/artifacts/{path:path}",
    status_code=201,
    response_model=s.ArtifactOut,
    dependencies=WRITE_RUN,
)
async def upload_artifact(
    run_id: str,
    path: str,
    request: Request,
    tracking: Tracking,
    metrics: Metrics,
    digest: Annotated[str | None, Header(alias=DIGEST_HEADER)] = None,
) -> s.ArtifactOut | JSONResponse:
    body = io.BufferedReader(_RequestBody(request.stream()), CHUNK)
    try:
        artifact = await run_in_threadpool(tracking.store_artifact, run_id, path, body, digest)
    except CorruptArtifact as exc:
        # The bytes received differ from the digest the caller declared: the caller's problem.
        return error_response(exc, status=422)
    metrics.artifact_bytes.inc(artifact.size)
    return s.ArtifactOut.of(artifact)


@router.get("/runs/{run_id}/artifacts", dependencies=READ_RUN)
def list_artifacts(run_id: str, tracking: Tracking) -> s.ArtifactsOut:
    return s.ArtifactsOut(artifacts=[s.ArtifactOut.of(a) for a in tracking.list_artifacts(run_id)])


@router.get("/runs/{run_id}/artifacts/{path:path}", dependencies=READ_RUN, response_class=StreamingResponse)
def download_artifact(run_id: str, path: str, tracking: Tracking, app: Shipyard) -> StreamingResponse:
    artifact = tracking.artifact(run_id, path)
    return _stream(app, artifact.digest, posixpath.basename(artifact.path))


@router.get("/blobs/{digest}", dependencies=READ, response_class=StreamingResponse)
def download_blob(digest: str, app: Shipyard) -> StreamingResponse:
    digest = parse_digest(digest)
    if not app.content.exists(digest):
        raise NotFound(f"no artifact has digest {digest}", field="digest")
    return _stream(app, digest, digest.removeprefix("sha256:"))


def _stream(app: App, digest: str, filename: str) -> StreamingResponse:
    size = app.content.size(digest)  # the stored object's real size, so Content-Length never lies
    reader = app.content.open(digest)
    return StreamingResponse(
        _chunks(reader, digest),
        media_type="application/octet-stream",
        headers={
            DIGEST_HEADER: digest,
            "Content-Length": str(size),
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
        },
    )


def _chunks(reader: BinaryIO, digest: str) -> Iterator[bytes]:
    with reader:
        try:
            while chunk := reader.read(CHUNK):
                yield chunk
        except CorruptArtifact as exc:
            # Headers are gone already; the client's own digest check rejects what it received.
            logger.error("served corrupt content: %s", exc.message)
