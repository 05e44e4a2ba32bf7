"""A moto server whose every request is counted: HTTP requests per operation on S3
(deterministic, unlike times). Used by tests/test_requests.py and the metadata benchmark.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Counting:
    """WSGI middleware recording ``METHOD path?query`` of every request."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        query = environ.get("QUERY_STRING", "")
        with self.lock:
            self.requests.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}?{query}")
        return self.app(environ, start_response)

    def mark(self) -> int:
        """A point to count from (`since`)."""
        with self.lock:
            return len(self.requests)

    def since(self, start: int) -> list[str]:
        """The requests made after ``start`` (a `mark`)."""
        with self.lock:
            return self.requests[start:]

    @contextmanager
    def count(self) -> Iterator[list[str]]:
        """The requests made in the ``with`` block, in the list it yields."""
        start = self.mark()
        seen: list[str] = []
        yield seen
        seen.extend(self.since(start))


@contextmanager
def counting_moto() -> Iterator[tuple[str, Counting]]:
    """A moto server on 127.0.0.1 behind `Counting`: (endpoint URL, counter)."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = Counting(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", app
    finally:
        server.shutdown()
        thread.join(timeout=30)
