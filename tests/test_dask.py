"""Dask worker processes sharing one S3 cache (moto's server) with the client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

import artifact_cache as ac


@pytest.fixture(scope="module")
def client(moto_endpoint: str) -> Iterator[Any]:
    """A LocalCluster of two single-threaded worker processes (they inherit the S3 env)."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=None,
        host="127.0.0.1",
    )
    with Client(cluster) as c:
        yield c
    cluster.close()


def square_sum(n: int) -> tuple[int, int]:
    return sum(i * i for i in range(n)), os.getpid()


def test_workers_share_one_s3_cache(client: Any, s3_url: str) -> None:
    """Work computed on the workers is served from the cache to the client, and back."""
    store = ac.open_store(s3_url)
    step = store.step("square_sum")(square_sum)
    futures = [client.submit(step, n, pure=False) for n in range(8)]
    # A task whose function a worker cannot import hangs instead of failing: bound it.
    results = [f.result(timeout=60) for f in futures]
    worker_pids = {pid for _, pid in results}
    assert os.getpid() not in worker_pids
    assert [r[0] for r in results] == [sum(i * i for i in range(n)) for n in range(8)]
    # The client sees every artifact the workers saved, and reads them without computing.
    assert len(store.list("square_sum")) == 8
    calls = [step.call(n) for n in range(8)]
    assert all(c.cached for c in calls)
    assert [c.value for c in calls] == results
    # A second round on the workers is all hits: the pids recorded are the first round's.
    again = [client.submit(step.call, n, pure=False).result(timeout=60) for n in range(8)]
    assert all(c.cached for c in again)
    assert [c.value for c in again] == results


def test_store_travels_to_workers(client: Any, s3_url: str) -> None:
    """A store object pickles to a worker and writes where the client reads."""
    store = ac.open_store(s3_url)
    info = client.submit(lambda s: s.save("from-worker", {"ok": True}), store).result(timeout=60)
    assert store.get("from-worker") == {"ok": True}
    assert store.info("from-worker") == info
