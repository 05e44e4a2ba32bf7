"""Shared fixtures: one moto S3 server per session, and a store on every backend."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator

import pytest

import artifact_cache as ac

BACKENDS = ["memory", "local", "s3"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's ThreadedMotoServer on 127.0.0.1, reached over HTTP by s3fs and boto3.

    Dummy credentials and the endpoint go into the environment (botocore reads
    AWS_ENDPOINT_URL), so subprocesses, notebooks and workers find the server too.
    """
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for k, v in env.items():
        os.environ[k] = v
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(k, None)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    yield endpoint
    server.stop()


def new_bucket(endpoint: str) -> str:
    """Create a uniquely named bucket and return its name."""
    import boto3

    name = f"ac-{uuid.uuid4().hex[:16]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_url(moto_endpoint: str) -> str:
    """A fresh bucket on the moto server, as an s3:// URL of a store inside it."""
    return f"s3://{new_bucket(moto_endpoint)}/cache"


def make_url(backend: str, tmp_path: os.PathLike[str], request: pytest.FixtureRequest) -> str:
    if backend == "memory":
        return f"memory://test-{uuid.uuid4().hex}"
    if backend == "local":
        return str(tmp_path / "store")
    endpoint = request.getfixturevalue("moto_endpoint")
    return f"s3://{new_bucket(endpoint)}/cache"


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    """The URL of an empty store on each backend: memory://, a local folder, S3 (moto)."""
    return make_url(request.param, tmp_path, request)


@pytest.fixture
def store(store_url: str) -> ac.ArtifactStore:
    """An empty store on each backend."""
    return ac.open_store(store_url)


@pytest.fixture
def mem_store() -> ac.ArtifactStore:
    """An empty store on a unique memory:// root (for tests about logic, not backends)."""
    return ac.open_store(f"memory://test-{uuid.uuid4().hex}")
