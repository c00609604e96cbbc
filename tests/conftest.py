"""Fixtures shared by every test suite."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from typing import NoReturn

import pytest

# ---- artifact stores: a real S3-compatible server (moto) ---------------------------------------
# Owned by the artifact store layer. ``s3_server`` starts moto's HTTP server once per session on a
# free port of 127.0.0.1 with dummy credentials in the environment (inherited by subprocesses);
# ``s3_bucket`` creates a fresh bucket per test.

_AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "shipyard-test",
    "AWS_SECRET_ACCESS_KEY": "shipyard-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_AWS_UNSET = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL")


def _s3_unavailable(reason: str) -> NoReturn:
    """Fail under CI (the server must run there), skip on a workstation without moto."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"S3 test server unavailable: {reason}")
    pytest.skip(f"S3 test server unavailable: {reason}")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """Endpoint URL (``http://127.0.0.1:<port>``) of a moto S3 server running for the session."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        _s3_unavailable(f"moto[server] is not installed ({exc})")
    with pytest.MonkeyPatch.context() as env:
        for name, value in _AWS_TEST_ENV.items():
            env.setenv(name, value)
        for name in _AWS_UNSET:
            env.delenv(name, raising=False)
        # Port 0: the OS picks a free port, no race with other test processes.
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        # start() waits forever if the socket cannot be bound, so wait for it from a side thread.
        starter = threading.Thread(target=server.start, daemon=True)
        starter.start()
        starter.join(timeout=15)
        if starter.is_alive():
            _s3_unavailable("moto server did not start within 15 s")
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        try:
            import boto3

            boto3.client("s3", endpoint_url=endpoint).list_buckets()
        except Exception as exc:
            server.stop()
            _s3_unavailable(f"moto server at {endpoint} does not answer ({exc})")
        try:
            yield endpoint
        finally:
            server.stop()


@pytest.fixture
def s3_bucket(s3_server: str) -> str:
    """Name of a new, empty bucket on :func:`s3_server`."""
    import boto3

    name = f"shipyard-test-{uuid.uuid4().hex[:16]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=name)
    return name


# ---- end of artifact store fixtures -------------------------------------------------------------


# ---- Ray: one small local cluster per test session -----------------------------------------------
# Started once (a Ray start costs seconds) with the test folder on its workers' path, so pipelines
# defined in test modules import on the workers by reference; shut down at the end of the session.


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    import ray

    tests = os.path.dirname(os.path.abspath(__file__))
    paths = [tests, os.environ.get("PYTHONPATH", "")]
    # Only Ray's workers get the test folder on their path: this process's environment is left
    # as it is, since other tests start subprocesses from it.
    env = {"PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    try:
        yield
    finally:
        ray.shutdown()
