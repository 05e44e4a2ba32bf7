"""Shared fixtures: one moto S3 server per session, and a store on every backend."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator

import pytest
from azure_fixtures import az_url, azurite  # noqa: F401  (fixtures for tests/test_azure.py)
from procs import stop_process, wait_until_up

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


@pytest.fixture(scope="session")
def jupyter_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """JupyterLab on 127.0.0.1 with a token, run by this interpreter, for browser tests.

    Its config, data, runtime and settings folders are temporary, so no user-level
    kernelspec shadows this environment's ``python3``, whose ``python`` jupyter_client
    resolves to ``sys.executable``: the kernel imports the artifact_cache under test
    (tests/test_browser.py checks the kernel's interpreter).
    """
    import secrets
    import subprocess
    import sys
    import urllib.request

    root = tmp_path_factory.mktemp("lab_root")
    home = tmp_path_factory.mktemp("lab_home")
    port, token = free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    settings = home / "settings"
    settings.mkdir()
    # No "get notified about Jupyter news?" toast over the notebook.
    (settings / "overrides.json").write_text(
        '{"@jupyterlab/apputils-extension:notification":'
        ' {"fetchNews": "false", "checkForUpdates": false}}'
    )
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
        f"--port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={home / 'user-settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        f"--LabServerApp.app_settings_dir={settings}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, for robust waits
        "--allow-root",
        "--LabApp.extension_manager=readonly",  # no PyPI queries
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    log_path = home / "lab.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(
                lambda: urllib.request.urlopen(
                    f"{base}/api/status?token={token}", timeout=2
                ).read(),
                proc,
                log_path,
                what="jupyter lab",
                timeout=60,
                interval=0.25,
            )
            yield {"base": base, "token": token, "root": root, "log": log_path}
        finally:
            stop_process(proc)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "payload_files: every payload gets a file of its own in objects/ (none is stored "
        "inline), for tests that damage, remove or count payload files of small values",
    )


@pytest.fixture(autouse=True)
def _payload_files(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests marked ``payload_files`` attack the payload-file path with small values."""
    if request.node.get_closest_marker("payload_files") is not None:
        import artifact_cache.saving

        monkeypatch.setattr(artifact_cache.saving, "INLINE_MAX", -1)
