"""A faulty network between s3fs and the S3 server (moto), through a TCP proxy.

The proxy resets, stalls or truncates a share of the requests (fixed seed, bounded
count). Saves either complete or leave the previous artifact, reads retry or fail with
the library's errors, nothing torn is ever visible, and no call hangs.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from procs import POLLS_MAX

import artifact_cache as ac

_METHODS = (b"GET ", b"PUT ", b"HEAD ", b"POST ", b"DELETE ")


class FaultProxy:
    """Forwards 127.0.0.1:<port> to the upstream server, injecting faults into requests.

    A request (a client chunk starting with an HTTP method) is, with probability
    ``rate`` and while fewer than ``max_faults`` were injected:

    * ``reset``: the client's connection is reset (RST) before the request is sent on;
    * ``stall``: nothing is sent on and nothing comes back for ``stall`` seconds, then
      the connection closes;
    * ``truncate``: the request is sent on, but only half of the response's first
      chunk comes back before the connection closes.
    """

    KINDS = ("reset", "stall", "truncate")

    def __init__(
        self, upstream: tuple[str, int], *, seed: int, rate: float, max_faults: int, stall: float
    ) -> None:
        self.upstream = upstream
        self.rng = random.Random(seed)
        self.rate, self.max_faults, self.stall = rate, max_faults, stall
        self.faults: Counter[str] = Counter()
        self.kinds = self.KINDS
        self.requests = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.threads: list[threading.Thread] = []
        self._start(self._accept)

    def _start(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        for _poll in range(POLLS_MAX):
            if self.stop.is_set():
                return
            try:
                client, _ = self.sock.accept()
            except OSError:
                continue
            self._start(self._serve, client)

    def burst(self, count: int) -> None:
        """Reset each of the next ``count`` requests (more than the retries absorb)."""
        with self.lock:
            self.rate, self.kinds = 1.0, ("reset",)
            self.max_faults = sum(self.faults.values()) + count

    def _fault(self) -> str | None:
        with self.lock:
            self.requests += 1
            if sum(self.faults.values()) >= self.max_faults or self.rng.random() >= self.rate:
                return None
            kind = self.rng.choice(self.kinds)
            self.faults[kind] += 1
            return kind

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        for s in (client, upstream):
            s.settimeout(0.2)
        state = {"truncate": False, "closed": False}

        def close(reset: bool = False) -> None:
            state["closed"] = True
            if reset:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            for s in (client, upstream):
                with contextlib.suppress(OSError):
                    s.close()

        def incoming(sock: socket.socket) -> Iterator[bytes]:
            """What ``sock`` sends, until it closes or fails, or the proxy stops."""
            for _poll in range(POLLS_MAX):
                if self.stop.is_set() or state["closed"]:
                    return
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                yield data

        def back() -> None:  # upstream -> client
            for data in incoming(upstream):
                try:
                    if state["truncate"]:
                        client.sendall(data[: max(1, len(data) // 2)])
                        break
                    client.sendall(data)
                except OSError:
                    break
            close()

        self._start(back)
        for data in incoming(client):
            kind = self._fault() if data.startswith(_METHODS) else None
            if kind == "reset":
                close(reset=True)
                return
            if kind == "stall":
                self.stop.wait(self.stall)
                close()
                return
            if kind == "truncate":
                state["truncate"] = True
            try:
                upstream.sendall(data)
            except OSError:
                break
        close()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)
        self.sock.close()


def _value(round_: int, step: str) -> dict[str, Any]:
    return {"round": round_, "step": step, "blob": bytes([round_ % 256]) * 30_000}


def test_faulty_network(moto_endpoint: str, s3_url: str) -> None:
    """Through resets, stalls and truncated responses (a share of all requests, then a
    burst that outlasts the retries), every call returns or raises an ArtifactStoreError,
    a direct reader only ever sees whole artifacts (the previous one or the new one),
    and a save reported as done is visible."""
    host, port = moto_endpoint.removeprefix("http://").split(":")
    proxy = FaultProxy((host, int(port)), seed=20261202, rate=0.3, max_faults=15, stall=1.5)
    direct = ac.open_store(s3_url)
    rounds, steps = 10, ("a", "b/c")
    calls = rounds * len(steps) * 3
    # Each call: s3fs tries twice, botocore twice each, each try at most connect + read.
    per_call = 2 * 2 * (1 + 1) + 5
    outcomes: Counter[str] = Counter()
    problems: list[str] = []

    def workload() -> None:
        faulty = ac.open_store(
            s3_url,
            endpoint_url=f"http://127.0.0.1:{proxy.port}",
            config_kwargs={"connect_timeout": 1, "read_timeout": 1},
        )
        visible: dict[str, Any] = {}
        for r in range(rounds):
            if r == rounds - 3:
                proxy.burst(16)  # more attempts than the retries make: a save and reads fail
            for step in steps:
                new = _value(r, step)
                try:
                    faulty.save(step, new)
                    saved = True
                except ac.ArtifactStoreError:
                    saved = False
                except Exception as exc:
                    problems.append(f"save raised {type(exc).__name__}: {exc}")
                    return
                outcomes["saved" if saved else "save failed"] += 1
                try:
                    seen = direct.get(step)  # digest-checked: a torn artifact raises
                except ac.ArtifactNotFoundError:
                    seen = None
                if saved and seen != new:
                    problems.append(f"round {r} {step}: a completed save is not visible")
                if seen not in (new, visible.get(step)):
                    problems.append(f"round {r} {step}: neither the previous nor the new value")
                visible[step] = seen
                for read in (lambda s=step: faulty.get(s), faulty.list):
                    try:
                        got = read()
                    except ac.ArtifactStoreError:
                        outcomes["read failed"] += 1
                        continue
                    except Exception as exc:
                        problems.append(f"read raised {type(exc).__name__}: {exc}")
                        return
                    outcomes["read"] += 1
                    if isinstance(got, dict) and got != seen:
                        problems.append(f"round {r} {step}: read {got['round']}, not {seen}")

    worker = threading.Thread(target=workload, daemon=True)
    start = time.monotonic()
    try:
        worker.start()
        worker.join(timeout=calls * per_call)
        assert not worker.is_alive(), f"a call hung after {time.monotonic() - start:.0f} s"
    finally:
        proxy.close()
    assert problems == []
    assert sum(proxy.faults.values()) == proxy.max_faults == 15 + 16, proxy.faults
    assert set(proxy.faults) == set(FaultProxy.KINDS), proxy.faults
    assert outcomes["saved"] > 0 and outcomes["read"] > 0, outcomes
    assert outcomes["save failed"] > 0 and outcomes["read failed"] > 0, outcomes
    # Afterwards every artifact is whole and every record has its payload.
    for info in direct.list():
        direct.load(info)
