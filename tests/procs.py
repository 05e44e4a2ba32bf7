"""Helpers for the servers the test fixtures start as subprocesses."""

from __future__ import annotations

import subprocess


def stop_process(proc: subprocess.Popen[bytes], grace: float = 15) -> None:
    """Ask ``proc`` to end, and kill it if it has not within ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
