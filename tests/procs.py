"""Helpers for the subprocesses and threads tests start: servers of the fixtures, the
command line, bounded threads."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path


def stop_process(proc: subprocess.Popen[bytes], grace: float = 15) -> None:
    """Ask ``proc`` to end, and kill it if it has not within ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_until_up(
    ready: Callable[[], object],
    proc: subprocess.Popen[bytes],
    log_path: Path,
    *,
    what: str,
    timeout: float,
    interval: float = 0.2,
) -> None:
    """Poll ``ready`` (which raises OSError until the server answers) at most
    ``timeout / interval`` times; RuntimeError with the log's tail if ``proc`` exits or
    the time is up."""
    for _attempt in range(max(1, math.ceil(timeout / interval))):
        try:
            ready()
            return
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(interval)
    tail = log_path.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"{what} did not start:\n{tail}")


POLLS_MAX = 6_000
"""How many 0.2 s polls a test server's loop makes at most (20 minutes): a server a test
forgot to stop ends by itself."""


SCRIPT = Path(sys.executable).parent / "artifact-cache"
"""The console script of the installed package."""
TESTS = Path(__file__).parent


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the console script with stdin not a terminal, no ``$ARTIFACT_CACHE_URL`` and the
    tests' folder importable; never raise on exit codes."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), env.get("PYTHONPATH")) if p)
    env.pop("ARTIFACT_CACHE_URL", None)
    return subprocess.run(
        [str(SCRIPT), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )


def run_python(
    code: str, *args: str, path: Path, seed: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new Python (with hash seed ``seed`` if given) with this checkout
    and ``path`` importable (modules a test wrote there); its output as text, exit code
    unchecked."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS.parent), str(path)]))
    if seed is not None:
        env["PYTHONHASHSEED"] = seed
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_threads(work: Callable[[int], None], count: int = 4, timeout: float = 60) -> None:
    """Run ``work(0)`` .. ``work(count - 1)`` in threads at once and wait for them (each
    at most ``timeout`` seconds); fails if one is still running, and raises the first
    exception a thread raised."""
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            work(n)
        except BaseException as exc:  # (re-raised in the test's thread)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    started = []
    try:
        for thread in threads:
            thread.start()
            started.append(thread)
    finally:
        for thread in started:
            thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in started)
    if errors:
        raise errors[0]
