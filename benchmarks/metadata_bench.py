"""The metadata path next to its peers and floors, in one run: listings, "newest of a
step", many small artifacts, and HTTP requests per operation on S3.

Every ratio compares two measures taken in this same run on this machine:

* ``list()`` of N artifacts (after a first listing has indexed them) vs iterating over
  the same N entries of a ``diskcache.Cache`` (keys, and keys with their values), in this
  process and in a new one (both stores on the same disk, diskcache with its defaults);
* ``get(step)`` of a step holding K keys vs ``get(step, key=)``;
* saving and loading M small dicts vs ``diskcache`` (``Cache.set``/``Cache.get``), and
  loading them again in a new process;
* requests per operation on S3, counted by a WSGI wrapper around moto's server (moto is
  never timed), with ``list()`` of 1,000 records without and with the manifest of
  records; and what that manifest costs here without a server (size, write, read).

    python benchmarks/metadata_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gc
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Literal, overload

from store_bench import timed  # one median timer for every benchmark

import artifact_cache as ac
from artifact_cache.record_values import new_version_id

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from counting import Counting
from counting import counting_moto as _counting_moto


def fill(store: ac.ArtifactStore, n: int, steps: int) -> None:
    """n records over ``steps`` step ids, written as files (as a save writes them), each
    with a payload, digest, time and version of its own (as n saves would have)."""
    template = store.save("template", {"v": 0})
    store.delete("template")
    root = Path(store._storage.root) / "refs"
    base = template.to_dict()
    size = template.size
    i = 0
    for s in range(steps):
        folder = root / f"group{s % 10}" / f"step{s}"
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(n // steps):
            i += 1
            created = template.created + dt.timedelta(microseconds=37 * i)
            data = dict(
                base,
                step_id=f"group{s % 10}/step{s}",
                key=f"k{k}",
                digest=hashlib.blake2b(i.to_bytes(8, "little"), digest_size=16).hexdigest(),
                created=created.isoformat(),
                version=new_version_id(created),
                inline=base64.b64encode(os.urandom(size)).decode(),
            )
            (folder / f"@k{k}.json").write_text(json.dumps(data))
    past = time.time() - 60  # written a while ago: not in the index's racy window
    for folder in root.rglob("*"):
        if folder.is_dir():
            os.utime(folder, (past, past))


def bench_list(tmp: Path, n: int, repeat: int) -> dict[str, float]:
    store = ac.ArtifactStore(str(tmp / f"list{n}"), progress=False)
    fill(store, n, steps=max(1, n // 50))
    t = time.perf_counter()
    assert len(store.list()) == n
    cold = time.perf_counter() - t
    fresh = ac.ArtifactStore(str(tmp / f"list{n}"), progress=False)
    t = time.perf_counter()
    assert len(fresh.list("group1/")) == n // 10
    warm_other = time.perf_counter() - t
    ours = timed(lambda: store.list(), repeat)
    import diskcache

    # A new process: the index is there, but nothing is read yet. diskcache is timed
    # the same way: its first iteration in a process that opened the cache.
    script = (
        "import sys, time, artifact_cache as ac\n"
        "s = ac.ArtifactStore(sys.argv[1], progress=False)\n"
        "t, c = time.perf_counter(), time.process_time(); n = len(s.list())\n"
        "print(time.perf_counter() - t, time.process_time() - c)\n"
    )
    cache = diskcache.Cache(str(tmp / f"dc{n}"))
    for i in range(n):
        cache[f"group{i % 10}/step{i}/k"] = {"v": i}
    keys = timed(lambda: list(cache), repeat)
    items = timed(lambda: [cache[k] for k in cache], repeat)
    cache.close()
    dc_script = (
        "import sys, time, diskcache\n"
        "c = diskcache.Cache(sys.argv[1])\n"
        "t, p = time.perf_counter(), time.process_time(); n = len(list(c))\n"
        "print(time.perf_counter() - t, time.process_time() - p)\n"
    )
    # Medians of wall-clock and of CPU time (the latter steadier on a busy machine).
    ours_runs = [_in_new_process(script, str(tmp / f"list{n}"), both=True) for _ in range(repeat)]
    dc_runs = [_in_new_process(dc_script, str(tmp / f"dc{n}"), both=True) for _ in range(repeat)]
    new_process = statistics.median(w for w, _ in ours_runs)
    dc_new_process = statistics.median(w for w, _ in dc_runs)
    new_cpu = statistics.median(c for _, c in ours_runs)
    dc_new_cpu = statistics.median(c for _, c in dc_runs)
    return {
        "first list (indexing)": cold,
        "list": ours,
        "diskcache keys": keys,
        "diskcache items": items,
        "list / dc keys": ours / keys,
        "list / dc items": ours / items,
        "fresh store list(prefix), 1 in 10": warm_other,
        "list in a new process": new_process,
        "diskcache keys in a new process": dc_new_process,
        "new process: list / dc keys": new_process / keys,
        "new process: list / dc keys (new)": new_process / dc_new_process,
        "new process, CPU: list / dc keys (new)": new_cpu / dc_new_cpu,
    }


@overload
def _in_new_process(script: str, *args: str) -> float: ...
@overload
def _in_new_process(script: str, *args: str, both: Literal[True]) -> tuple[float, float]: ...
def _in_new_process(script: str, *args: str, both: bool = False) -> Any:
    """Run ``script`` in a new Python process; it prints the seconds it measured (wall
    clock, then CPU time with ``both``)."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=True
    )
    values = [float(v) for v in done.stdout.split()]
    return (values[0], values[1]) if both else values[0]


def bench_newest(tmp: Path, keys: int, repeat: int) -> dict[str, float]:
    store = ac.ArtifactStore(str(tmp / "newest"), progress=False)
    template = store.save("big", {"v": 1}, key="k0")
    folder = Path(store._storage.record_dir("big"))
    base = template.to_dict()
    for k in range(1, keys):
        (folder / f"@k{k}.json").write_text(json.dumps(dict(base, key=f"k{k}")))
    past = time.time() - 60
    os.utime(folder, (past, past))
    store.get("big")  # indexes the step once
    newest = timed(lambda: store.get("big"), repeat * 20)
    keyed = timed(lambda: store.get("big", key="k5"), repeat * 20)
    return {"get(step)": newest, "get(step, key=)": keyed, "ratio": newest / keyed}


def _collected() -> float:
    """Collect garbage, then start a clock: a timed loop pays for the objects it leaves
    to the collector, not for those of the benchmarks before it (the collector stays on,
    as in a user's process)."""
    gc.collect()
    return time.perf_counter()


def bench_small(tmp: Path, m: int) -> dict[str, float]:
    import diskcache

    store = ac.ArtifactStore(str(tmp / "small"), progress=False)
    values = [{"i": i, "name": f"row{i}", "xs": list(range(10))} for i in range(m)]
    t = _collected()
    for i, v in enumerate(values):
        store.save("small", v, key=f"k{i}")
    save = time.perf_counter() - t
    t = _collected()
    for i in range(m):
        store.get("small", key=f"k{i}")
    load = time.perf_counter() - t
    cache = diskcache.Cache(str(tmp / "dc-small"))
    t = _collected()
    for i, v in enumerate(values):
        cache[f"small/k{i}"] = v
    dc_save = time.perf_counter() - t
    t = _collected()
    for i in range(m):
        cache[f"small/k{i}"]
    dc_load = time.perf_counter() - t
    cache.close()
    # Loads in a new process: no record was read there before (each is parsed once).
    ours_new = (
        "import sys, time, artifact_cache as ac\n"
        "s = ac.ArtifactStore(sys.argv[1], progress=False); m = int(sys.argv[2])\n"
        "t = time.perf_counter()\n"
        "for i in range(m): s.get('small', key=f'k{i}')\n"
        "print(time.perf_counter() - t)\n"
    )
    dc_new = (
        "import sys, time, diskcache\n"
        "c = diskcache.Cache(sys.argv[1]); m = int(sys.argv[2])\n"
        "t = time.perf_counter()\n"
        "for i in range(m): c[f'small/k{i}']\n"
        "print(time.perf_counter() - t)\n"
    )
    load_new = _in_new_process(ours_new, str(tmp / "small"), str(m))
    dc_load_new = _in_new_process(dc_new, str(tmp / "dc-small"), str(m))
    return {
        "save all": save,
        "load all": load,
        "diskcache save": dc_save,
        "diskcache load": dc_load,
        "save ratio": save / dc_save,
        "load ratio": load / dc_load,
        "load all, new process": load_new,
        "diskcache load, new process": dc_load_new,
        "load ratio, new process": load_new / dc_load_new,
    }


# ---------------------------------------------------------------------- S3 requests
@contextmanager
def counting_moto() -> Iterator[tuple[str, Counting]]:
    """The tests' counting moto server, with dummy credentials unless some are set."""
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(k, v)
    with _counting_moto() as found:
        yield found


def s3_requests(matches: int = 10, others: int = 1000) -> dict[str, list[str]]:
    import boto3

    out: dict[str, list[str]] = {}
    with counting_moto() as (endpoint, counter):
        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket=bucket)
        options = {"client_kwargs": {"endpoint_url": endpoint}}
        url = f"s3://{bucket}/store"
        store = ac.ArtifactStore(url, progress=False, **options)
        store.save("warm", 0)  # the marker, once per store
        reader = ac.ArtifactStore(url, progress=False, **options)
        reader.get("warm", key="default")  # the format check, once per store
        # A small value (inside its record), then one over 16 KiB (INLINE_MAX): the
        # payload is a file of its own.
        for size, n in (("", 1), (" > 16 KiB", 10_000)):
            step, value = f"a{n}", list(range(n))

            @reader.step(f"numbers{n}")
            def numbers(k: int) -> list[int]:
                return list(range(k))

            operations = [
                ("save (new payload)", partial(store.save, step, value)),
                ("save (identical again)", partial(store.save, step, value)),
                ("get(step, key=)", partial(reader.get, step, key="default")),
                ("get(step)", partial(reader.get, step)),
                ("decorator miss", partial(numbers, n)),
                ("decorator hit", partial(numbers, n)),
            ]
            for name, call in operations:
                with counter.count() as seen:
                    call()
                out[name + size] = seen
        # 1,000 artifacts of which 10 match: written directly, as records of one payload.
        info = store.save("tmpl", 1)
        base = info.to_dict()
        for group, n in (("other", others), ("wanted", matches)):
            for i in range(n):
                step = f"{group}/s{i}"
                client.put_object(
                    Bucket=bucket,
                    Key=f"store/refs/{step}/@default.json",
                    Body=json.dumps(dict(base, step_id=step, key="default")),
                )
        with counter.count() as seen:
            assert len(reader.list("wanted/")) == matches
        out[f"list(prefix) {matches} of {others + matches}"] = seen
        out.update(s3_full_listing(endpoint, counter, base, others))
    return out


def s3_full_listing(
    endpoint: str, counter: Counting, template: dict[str, Any], n: int
) -> dict[str, list[str]]:
    """Requests of ``list()`` over n records on S3: cold (no manifest: every record, then
    the manifest's PUT), by a fresh store with the manifest, repeated, and after saves."""
    import boto3
    import s3fs

    out: dict[str, list[str]] = {}
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    options = {"client_kwargs": {"endpoint_url": endpoint}, "skip_instance_cache": True}
    url = f"s3://{bucket}/store"
    body = {
        f"{bucket}/store/refs/g{i % 10}/s{i}/@default.json": json.dumps(
            dict(template, step_id=f"g{i % 10}/s{i}", key="default")
        ).encode()
        for i in range(n)
    }
    s3fs.S3FileSystem(**options).pipe(body)  # records of a writer that skips the manifest

    def fresh() -> ac.ArtifactStore:
        store = ac.ArtifactStore(url, progress=False, **options)
        store.exists("warm")  # the format check, once per store
        return store

    cold = fresh()
    with counter.count() as seen:
        assert len(cold.list()) == n
    out[f"list() {n:,}, no manifest"] = seen
    reader = fresh()
    with counter.count() as seen:
        assert len(reader.list()) == n
    out[f"list() {n:,}, manifest"] = seen
    with counter.count() as seen:
        assert len(reader.list()) == n
    out[f"list() {n:,} again, same store"] = seen
    writer = fresh()
    for i in range(5):
        writer.save(f"new/s{i}", i)
    with counter.count() as seen:
        assert len(reader.list()) == n + 5
    out[f"list() {n:,} after 5 saves"] = seen
    other = fresh()
    with counter.count() as seen:
        assert len(other.list("g3/")) == n // 10
    out[f"list(prefix) {n // 10} of {n:,}, manifest"] = seen
    return out


def bench_manifest(n: int, repeat: int) -> dict[str, float]:
    """What a manifest of n records costs here (no server): its size, writing it, and
    reading it back into a listing's rows."""
    from artifact_cache.storage.index import examine
    from artifact_cache.storage.layout import RecordName
    from artifact_cache.storage.manifest import decode_manifest, encode_manifest

    store = ac.ArtifactStore(f"memory://bench-{uuid.uuid4().hex}", progress=False)
    base = store.save("tmpl", {"v": 1}).to_dict()
    entries = []
    for i in range(n):
        step = f"g{i % 10}/s{i}"
        text = json.dumps(dict(base, step_id=step, key="default")).encode()
        entries.append((f"{step}/@default.json", (f'"{i:032x}"', len(text), 1.7e9 + i), text))
    data = encode_manifest(entries)
    write = timed(lambda: encode_manifest(entries), repeat)

    def read() -> None:
        for rel, (_token, text) in (decode_manifest(data) or {}).items():
            step, _, key = rel.rpartition("/@")
            examine(RecordName(step, key[:-5]), text)

    return {
        "records' text (KiB)": sum(len(e[2]) for e in entries) / 1024,
        "manifest, gzip'd (KiB)": len(data) / 1024,
        "write (ms)": write * 1e3,
        "read and examine (ms)": timed(read, repeat) * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 request counts")
    parser.add_argument("-v", action="store_true", help="print every S3 request")
    args = parser.parse_args()
    sizes = [500, 2000] if args.quick else [5_000, 50_000]
    keys = 1_000 if args.quick else 10_000
    small = 500 if args.quick else 5_000
    repeat = 3
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for n in sizes:
            print(f"\nlist() of {n:,} artifacts (local store)")
            for k, v in bench_list(tmp, n, repeat).items():
                print(f"  {k:36s} {v * 1e3:10.2f} ms" if "/" not in k else f"  {k:36s} {v:10.2f}x")
        print(f"\nget(step) of a step holding {keys:,} keys")
        for k, v in bench_newest(tmp, keys, repeat).items():
            print(f"  {k:36s} {v * 1e6:10.1f} us" if k != "ratio" else f"  {k:36s} {v:10.2f}x")
        print(f"\n{small:,} small dicts, save all / load all")
        for k, v in bench_small(tmp, small).items():
            print(f"  {k:36s} {v:10.3f} s" if "ratio" not in k else f"  {k:36s} {v:10.2f}x")
    for n in (1_000, sizes[-1]):
        print(f"\nthe object-store manifest of {n:,} records (in memory, no server)")
        for k, v in bench_manifest(n, repeat).items():
            print(f"  {k:36s} {v:10.1f}")
    if not args.no_s3:
        print("\nS3 requests per operation (moto server, counted by a WSGI wrapper)")
        for op, seen in s3_requests().items():
            detail = ", ".join(sorted({r.split(" ")[0] for r in seen}))
            print(f"  {op:40s} {len(seen):6d}   ({detail})")
            if "-v" in sys.argv:
                for r in seen:
                    print("      ", r)


if __name__ == "__main__":
    main()
