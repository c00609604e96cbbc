"""A real Shipyard HTTP server for tests: uvicorn in a background thread on 127.0.0.1.

    server = start_live_server(app)
    try:
        RemoteTracking(server.url, token) ...
    finally:
        server.stop()

The socket is bound before uvicorn starts (port 0: the OS picks a free port, no race with other
test processes), and :func:`start_live_server` returns only once ``/health`` answers.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

import httpx
import uvicorn

from shipyard.app import App
from shipyard.server import create_app

STARTUP_TIMEOUT = 15.0


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server = field(repr=False)
    thread: threading.Thread = field(repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread; the App stays open (its owner closes it)."""
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_live_server(app: App, *, timeout: float = STARTUP_TIMEOUT) -> LiveServer:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(app), log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"shipyard-server-{port}", daemon=True
    )
    thread.start()
    live = LiveServer(f"http://127.0.0.1:{port}", server, thread)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{live.url}/health", timeout=1.0).status_code == 200:
                return live
        except httpx.TransportError:
            pass
        if not thread.is_alive() or time.monotonic() > deadline:
            live.stop()
            sock.close()
            raise RuntimeError(f"the live server on port {port} did not become healthy within {timeout}s")
        time.sleep(0.02)


def client_for(app: App, server: LiveServer, user: str) -> httpx.Client:
    """An HTTP client of ``server`` holding a new token of ``user``."""
    secret = app.accounts.create_token(user).secret
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {secret}"})
