"""Save/load throughput and peak memory of the store next to its peers, in one run.

Peers: plain ``pickle`` (protocol 5, streamed to a file), ``joblib.dump/load`` and
``diskcache``. Results are printed as a table of throughputs and as ratios to plain
pickle; absolute times depend on the machine, the ratios are what to compare.

    python benchmarks/store_bench.py [--mb 256] [--dicts 5000] [--repeat 3] [--only-load]
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import artifact_cache as ac


def timed(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def peers(tmp: Path) -> dict[str, tuple[Callable[[str, Any], None], Callable[[str], Any]]]:
    import diskcache
    import joblib

    def pickle_save(name: str, obj: Any) -> None:
        with open(tmp / f"{name}.pkl", "wb") as f:
            pickle.dump(obj, f, protocol=5)

    def pickle_load(name: str) -> Any:
        with open(tmp / f"{name}.pkl", "rb") as f:
            return pickle.load(f)

    dc = diskcache.Cache(str(tmp / "diskcache"))
    local = ac.open_store(str(tmp / "store"))
    memory = ac.open_store(f"memory://bench-{uuid.uuid4().hex}")
    return {
        "pickle file": (pickle_save, pickle_load),
        "joblib": (
            lambda n, o: joblib.dump(o, tmp / f"{n}.joblib"),
            lambda n: joblib.load(tmp / f"{n}.joblib"),
        ),
        "diskcache": (lambda n, o: dc.set(n, o), lambda n: dc.get(n)),
        "artifact_cache local": (lambda n, o: local.save(n, o), local.get),
        "artifact_cache memory": (lambda n, o: memory.save(n, o), memory.get),
    }


def bench_array(mb: int, repeat: int) -> list[tuple[str, float, float]]:
    arr = np.random.default_rng(0).random(mb * 2**20 // 8)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name, (save, load) in peers(Path(d)).items():
            save("warm", np.zeros(10))
            # A fresh name each repeat so that the store's dedup does not skip the write.
            i = iter(range(repeat))

            def save_new(save: Callable[[str, Any], None] = save, i: Any = i) -> None:
                n = next(i)
                arr[0] = n  # new content each time, so no one's dedup skips the write
                save(f"arr{n}", arr)

            t_save = timed(save_new, repeat)
            t_load = timed(lambda load=load: load(f"arr{repeat - 1}"), repeat)
            assert load(f"arr{repeat - 1}")[0] == repeat - 1
            rows.append((name, arr.nbytes / t_save / 1e9, arr.nbytes / t_load / 1e9))
    return rows


def bench_dicts(n: int) -> list[tuple[str, float, float]]:
    dicts = [{"id": i, "name": f"row-{i}", "score": i / 7, "tags": ["a", "b"]} for i in range(n)]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name, (save, load) in peers(Path(d)).items():
            t = time.perf_counter()
            for i, obj in enumerate(dicts):
                save(f"d{i}", obj)
            t_save = time.perf_counter() - t
            t = time.perf_counter()
            for i in range(n):
                load(f"d{i}")
            t_load = time.perf_counter() - t
            rows.append((name, n / t_save, n / t_load))
    return rows


def bench_large_load(mb: int, repeat: int) -> list[tuple[str, float, float]]:
    """One large array loaded by each contender in turn, ``repeat`` rounds interleaved.

    Interleaving exposes every contender to the same background load of the machine;
    the files are warm in the page cache (each is read once first). Rows: name, median
    seconds, ratio to ``joblib.load``.
    """
    import joblib

    arr = np.random.default_rng(1).random(mb * 2**20 // 8)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        joblib.dump(arr, tmp / "a.joblib")
        with open(tmp / "a.pkl", "wb") as f:
            pickle.dump(arr, f, protocol=5)
        store = ac.open_store(str(tmp / "store"), progress=False)
        info = store.save("big", arr)

        def pickle_load() -> Any:
            with open(tmp / "a.pkl", "rb") as f:
                return pickle.load(f)

        contenders: dict[str, Callable[[], Any]] = {
            "joblib.load": lambda: joblib.load(tmp / "a.joblib"),
            "pickle.load": pickle_load,
            "store.get": lambda: store.get("big"),
            "store.load(info)": lambda: store.load(info),
            "store.get mmap r": lambda: store.get("big", mmap_mode="r"),
            "joblib.load mmap r": lambda: joblib.load(tmp / "a.joblib", mmap_mode="r"),
        }
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for name, load in contenders.items():
            assert np.array_equal(load(), arr), name  # and warms the page cache
        for _ in range(repeat):
            for name, load in contenders.items():
                t = time.perf_counter()
                out = load()
                times[name].append(time.perf_counter() - t)
                del out
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    ref = medians["joblib.load"]
    return [(name, m, m / ref) for name, m in medians.items()]


PEAK = """
import pickle, resource, sys, numpy as np, artifact_cache as ac
who, op, where, mb = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def rss():
    # VmHWM is this process's own peak; ru_maxrss would carry the parent's across exec.
    try:
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM"))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
store = ac.open_store(where) if who == "store" else None
if store is not None:
    store.info("warm")                      # first I/O paid before the baseline
base = rss()
if op == "save":
    arr = np.random.default_rng(0).random(mb * 2**20 // 8)
    if store is not None:
        store.save("peak", arr)
    else:
        with open(where, "wb") as f:
            pickle.dump(arr, f, protocol=5)
elif store is not None:
    arr = store.get("peak", mmap_mode=op[5:] or None)
else:
    with open(where, "rb") as f:
        arr = pickle.load(f)
print((rss() - base) / arr.nbytes)
"""


def peak_memory(mb: int) -> list[tuple[str, float, float]]:
    def run(who: str, where: str) -> tuple[float, float]:
        def one(op: str) -> float:
            args = [sys.executable, "-c", PEAK, who, op, where, str(mb)]
            return float(subprocess.run(args, capture_output=True, text=True, check=True).stdout)

        return one("save"), one("load")

    with tempfile.TemporaryDirectory() as d:
        url = str(Path(d) / "store")
        ac.open_store(url).save("warm", 0)
        ours = run("store", url)
        theirs = run("pickle", str(Path(d) / "a.pkl"))
    return [("artifact_cache local", *ours), ("pickle file", *theirs)]


def peak_memory_load(mb: int, repeat: int) -> list[tuple[str, float]]:
    """Peak RSS growth of a load over the array's size, median of fresh processes.

    A mapped load (``mmap_mode="r"``) counts the file's pages it has touched: they are
    page cache, shared and reclaimable, but resident.
    """
    with tempfile.TemporaryDirectory() as d:
        url = str(Path(d) / "store")
        store = ac.open_store(url, progress=False)
        store.save("warm", 0)
        store.save("peak", np.random.default_rng(0).random(mb * 2**20 // 8))
        rows = []
        for op in ("load", "load-r"):
            args = [sys.executable, "-c", PEAK, "store", op, url, str(mb)]
            runs = [
                float(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
                for _ in range(repeat)
            ]
            rows.append(
                (f"store.get{' mmap r' if op == 'load-r' else ''}", statistics.median(runs))
            )
    return rows


def _times2(x: Any) -> Any:
    return x * 2


def _plus1(x: Any) -> Any:
    return x + 1


def _total(x: Any) -> float:
    return float(x.sum())


def bench_pipeline_rerun(mb: int, repeat: int) -> tuple[float, int]:
    """A cached re-run of a 5-step pipeline of ``mb`` MiB arrays: median seconds, and
    how many payloads it read (each step's key needs only its inputs' fingerprints)."""
    n = mb * 2**20 // 8
    with tempfile.TemporaryDirectory() as d:
        store = ac.open_store(d, progress=False)
        steps = [
            ac.Step("a", np.random.default_rng(0).random, params={"size": n}),
            ac.Step("b", _times2, input_from="a"),
            ac.Step("c", _plus1, input_from="b"),
            ac.Step("d", _times2, input_from="c"),
            ac.Step("e", _total, input_from="d"),
        ]
        pipe = ac.Pipeline(store, steps)
        pipe.run(progress=False)
        loads = 0
        original = ac.ArtifactStore.load

        def counted(self: ac.ArtifactStore, info: ac.ArtifactInfo, **options: Any) -> Any:
            nonlocal loads
            loads += 1
            return original(self, info, **options)

        ac.ArtifactStore.load = counted  # type: ignore[method-assign]
        try:
            t = timed(lambda: pipe.run(progress=False), repeat)
        finally:
            ac.ArtifactStore.load = original  # type: ignore[method-assign]
    return t, loads // repeat


def table(title: str, unit: str, rows: list[tuple[str, float, float]], ref: str) -> None:
    base = {r[0]: r for r in rows}[ref]
    print(f"\n{title}")
    print(
        f"{'':24} {'save ' + unit:>14} {'load ' + unit:>14} {'save vs ' + ref:>18} "
        f"{'load vs ' + ref:>18}"
    )
    for name, s, lo in rows:
        print(f"{name:24} {s:14.2f} {lo:14.2f} {base[1] / s:17.2f}x {base[2] / lo:17.2f}x")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=int, default=256)
    p.add_argument("--dicts", type=int, default=5000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", action="store_true", help="print the results as JSON too")
    p.add_argument("--only-load", action="store_true", help="only the large-load comparison")
    a = p.parse_args()
    large = bench_large_load(a.mb, max(a.repeat, 7))
    print(f"\nLoading one {a.mb} MiB float64 array, warm page cache, rounds interleaved")
    print(f"{'':24} {'median s':>10} {'vs joblib.load':>16}")
    for name, sec, ratio in large:
        print(f"{name:24} {sec:10.3f} {ratio:15.2f}x")
    peak_load = peak_memory_load(a.mb, 3)
    print("peak RSS growth / array size (fresh process, median of 3):")
    for name, ratio in peak_load:
        print(f"{name:24} {ratio:10.2f}x")
    rerun, read = bench_pipeline_rerun(a.mb // 8 or 1, max(a.repeat, 5))
    print(
        f"cached re-run of a 5-step pipeline of {a.mb // 8 or 1} MiB arrays: "
        f"{rerun * 1000:.1f} ms, {read} payloads read"
    )
    if a.only_load:
        if a.json:
            print(json.dumps({"large_load": large, "peak_load": peak_load, "rerun": rerun}))
        return
    arr = bench_array(a.mb, a.repeat)
    table(
        f"{a.mb} MiB float64 array (GB/s; time ratio, lower is better)", "GB/s", arr, "pickle file"
    )
    dicts = bench_dicts(a.dicts)
    table(
        f"{a.dicts} small dicts, one artifact each (items/s; time ratio)",
        "/s",
        dicts,
        "pickle file",
    )
    peak = peak_memory(a.mb)
    print(f"\nPeak memory of one {a.mb} MiB array, fresh process (peak RSS growth / array size)")
    print(f"{'':24} {'save':>8} {'load':>8}")
    for name, s, lo in peak:
        print(f"{name:24} {s:7.2f}x {lo:7.2f}x")
    if a.json:
        out = {"large_load": large, "peak_load": peak_load, "rerun": rerun, "array": arr}
        out["dicts"] = dicts
        print(json.dumps({**out, "peak": peak}))


if __name__ == "__main__":
    main()
