"""Cache-hit latency of ``store.step`` and hashing throughput, next to joblib, in one run.

Hit latency: the median of many calls with small arguments, after a first call stored the
result, for ``store.step`` on a local folder and on ``memory://``, ``joblib.Memory`` and
``diskcache``'s ``memoize``. Hashing: ``artifact_cache.fingerprint.fingerprint`` against
``joblib.hash`` on one float64 array, the best of ``--repeat`` runs each (on a shared
machine the best run is the one least disturbed by other processes, as ``timeit``
advises). Absolute numbers depend on the machine; the ratios are what the targets are
about (hit latency on local at most half of joblib.Memory's; hashing at least 10x
joblib.hash's throughput).

    python benchmarks/decorator_bench.py [--calls 3000] [--mb 256] [--repeat 5] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import artifact_cache as ac
from artifact_cache.fingerprint import fingerprint


def hit_latency(fn: Callable[..., Any], calls: int) -> float:
    """Median seconds of one call, over ``calls`` calls that all hit."""
    fn(3, "small")  # the miss that stores the result
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        fn(3, "small")
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def memoised(tmp: Path) -> dict[str, Callable[..., Any]]:
    """The same small function memoised by each contender."""
    import diskcache
    import joblib

    def body(n: int, label: str) -> dict[str, Any]:
        return {"n": n, "label": label, "values": list(range(n))}

    local = ac.open_store(str(tmp / "store"))
    memory = ac.open_store(f"memory://bench-{uuid.uuid4().hex}")
    cache = diskcache.Cache(str(tmp / "diskcache"))
    return {
        "store.step (local)": local.step("bench/local")(body),
        "store.step (memory://)": memory.step("bench/memory")(body),
        "joblib.Memory": joblib.Memory(str(tmp / "joblib"), verbose=0).cache(body),
        "diskcache.memoize": cache.memoize()(body),
    }


def hashing_throughput(mb: int, repeat: int) -> dict[str, float]:
    """GB/s of fingerprint and joblib.hash over one float64 array of ``mb`` MiB (best run)."""
    import joblib

    array = np.random.default_rng(0).random(mb * 2**20 // 8)
    out = {}
    for name, fn in (("fingerprint", fingerprint), ("joblib.hash", joblib.hash)):
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn(array)
            times.append(time.perf_counter() - t)
        out[name] = array.nbytes / min(times) / 1e9
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=3000, help="hits timed per contender")
    p.add_argument("--mb", type=int, default=256, help="size of the hashed array in MiB")
    p.add_argument("--repeat", type=int, default=5, help="hashing runs (best of)")
    p.add_argument("--profile", action="store_true", help="cProfile the local hit path")
    p.add_argument("--json", action="store_true", help="print the results as JSON too")
    a = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        contenders = memoised(Path(tmp))
        latency = {name: hit_latency(fn, a.calls) for name, fn in contenders.items()}
        if a.profile:
            fn = contenders["store.step (local)"]
            profile = cProfile.Profile()
            profile.runcall(lambda: [fn(3, "small") for _ in range(a.calls)])
            pstats.Stats(profile, stream=sys.stdout).sort_stats("cumulative").print_stats(25)
    joblib_hit = latency["joblib.Memory"]
    print(f"\nCache-hit latency, small arguments (median of {a.calls} calls)")
    print(f"{'':24} {'us/call':>9} {'vs joblib.Memory':>17}")
    for name, seconds in latency.items():
        print(f"{name:24} {seconds * 1e6:9.1f} {seconds / joblib_hit:16.2f}x")

    speed = hashing_throughput(a.mb, a.repeat)
    print(f"\nHashing one {a.mb} MiB float64 array (best of {a.repeat})")
    print(f"{'':24} {'GB/s':>9} {'vs joblib.hash':>17}")
    for name, gbps in speed.items():
        print(f"{name:24} {gbps:9.2f} {gbps / speed['joblib.hash']:16.2f}x")

    local_ratio = latency["store.step (local)"] / joblib_hit
    hash_ratio = speed["fingerprint"] / speed["joblib.hash"]
    print("\nTargets")
    print(f"  hit latency on local <= 0.5x joblib.Memory: {local_ratio:.2f}x", end=" ")
    print("(met)" if local_ratio <= 0.5 else "(missed)")
    print(f"  hashing >= 10x joblib.hash: {hash_ratio:.1f}x", end=" ")
    print("(met)" if hash_ratio >= 10 else "(missed)")
    if a.json:
        print(json.dumps({"hit_latency_s": latency, "hashing_gbps": speed}))


if __name__ == "__main__":
    main()
