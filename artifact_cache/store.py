"""ArtifactStore: objects <-> serializers <-> storage. The public core.

It validates step ids and keys before any I/O, serialises outside the storage layer so a
failing serializer writes nothing, publishes the payload before the record that points to
it, and verifies a payload's size and digest before anything is unpickled. Its methods
keep their signatures and docs here; whole jobs are done by modules it passes itself to:
`saving` (save), `listing` (reading many records), `payloads` (open, url),
`lifecycle.garbage` (gc, clear), `provenance` (what `lineage_of` reads), `render`
(notebook HTML). Loading stays here: it is every cache hit's path. It may import errors,
stepid, digest, serializers, info, storage and those; decorators and the widget are
imported lazily by the methods that return them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import warnings
from binascii import a2b_base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar, overload

from . import compression as _compression
from . import listing as _listing
from . import payloads as _payloads
from . import progress as _progress
from . import saving as _saving
from .digest import hash_bytes
from .digest import hasher as new_hasher
from .errors import (
    ArtifactNotFoundError,
    ArtifactStoreError,
    IntegrityError,
    MissingDependencyError,
    PayloadMissingError,
    ReadOnlyStoreError,
    RecordError,
    SerializationError,
    did_you_mean,
    install_hint,
    missing_folder_note,
)
from .fingerprint.recipe import KeyRecipe
from .info import (
    ArtifactInfo,
    ArtifactRef,
    is_digest,
)
from .lifecycle import garbage as _garbage
from .lifecycle import lineage as _lineage
from .lifecycle import retention as _retention
from .lifecycle import versions as _versions
from .lifecycle.filters import Query
from .lifecycle.garbage import GcReport
from .provenance import tracker as _provenance
from .render import infos_html, store_html
from .serializers import get_serializer
from .signing import Signer, redact, redact_url, secret_values
from .signing import signing_key_from as _signing_key_from
from .stepid import validate_key, validate_step_id
from .storage import SizeMismatch, Storage, VersionName
from .storage.rows import record_at

if TYPE_CHECKING:
    from .decorators import StepFunction
    from .widget import ArtifactBrowser

__all__ = ["ArtifactList", "ArtifactStore", "GcReport", "lineage_of"]

_REMEDY = "save the step again or delete it"
"""What an error about an unusable record tells its reader to do."""

P = ParamSpec("P")
R = TypeVar("R")


class ArtifactList(list[ArtifactInfo]):
    """A plain list of ArtifactInfo that renders as a table in a notebook."""

    def _repr_html_(self) -> str:
        return infos_html(self)


def lineage_of(obj: Any) -> ArtifactRef | None:
    """The artifact ``obj`` was loaded from or saved as in this process, if any.

    The parts of a tuple, list or dict artifact that have an identity of their own
    (arrays, frames, most objects; not shared immutables such as small ints or
    strings) give that artifact too, so that ``X, y = features()`` keeps the lineage
    of ``X`` and ``y`` (rules in ``docs/lifecycle.md``).

    Examples:
        >>> store = ArtifactStore("memory://doc-lineage")
        >>> rows = [1, 2]
        >>> _ = store.save("extract", rows)
        >>> lineage_of(rows).step_id
        'extract'
        >>> class Part: ...
        >>> x, y = store.get(store.save("split", (Part(), Part())).step_id)
        >>> lineage_of(x).step_id, lineage_of(1)
        ('split', None)
    """
    return _provenance.lookup(obj)


def _reopen(
    url: str,
    storage_options: dict[str, Any],
    trust: dict[str, Any] | None = None,
    show_progress: bool | None = None,
    limits: dict[str, Any] | None = None,
) -> ArtifactStore:
    # ``trust`` carries the store's own options (signing key, read-only, keep_versions).
    return ArtifactStore(
        url, progress=show_progress, **(trust or {}), **(limits or {}), **storage_options
    )


class ArtifactStore:
    """Pickled step outputs keyed by step id, on any fsspec URL.

    ``storage_options`` are passed to fsspec untouched (``key``, ``secret``,
    ``endpoint_url``, ``anon``, ...); anything botocore or fsspec reads from the
    environment works as usual. ``progress=False`` switches off the progress bars of
    long saves, loads and listings (default: on unless ``$ARTIFACT_CACHE_PROGRESS=0``;
    they need tqdm). A store is safe to share between threads, picklable,
    and cheap to open again.

    ``signing_key`` (default ``$ARTIFACT_CACHE_SIGNING_KEY``; ``""`` for none) makes the
    store sign every record it writes and refuse, with `IntegrityError`, to load
    an artifact that is unsigned or signed with another key. ``read_only=True`` makes
    ``save``, ``delete``, ``clear`` and ``gc`` raise `ReadOnlyStoreError`. See
    ``docs/security.md``.

    Every save is kept as a version (`versions`, ``get(version=)``; see
    ``docs/lifecycle.md``). ``keep_versions`` (default None: all) keeps at most that
    many versions per step and key: `prune` (which saves run every ``prune_every``
    saves, below) removes the oldest ones beyond it, never the active one.

    ``max_size`` (bytes, or ``"10GB"``), ``max_count`` and ``max_age`` (seconds, a
    ``timedelta`` or ``"7d"``) limit what the store keeps: saves enforce them every
    ``prune_every`` saves (default: 16 on ``memory://``, 64 on a local disk, 256 and at
    most every 5 minutes on object stores; 0: only `prune` does), removing the least
    recently used artifacts first (the number of saves grows with the store, by 1/16 of
    what it holds on memory and local stores). See ``docs/lifecycle.md``.

    Examples:
        >>> store = ArtifactStore("memory://doc-store")
        >>> info = store.save("extract", {"rows": 3}, tags={"source": "crm"})
        >>> store.get("extract")
        {'rows': 3}
        >>> [i.step_id for i in store.list()]
        ['extract']
    """

    def __init__(
        self,
        url: str,
        *,
        progress: bool | None = None,
        signing_key: str | bytes | None = None,
        read_only: bool = False,
        keep_versions: int | None = None,
        max_size: int | str | None = None,
        max_count: int | None = None,
        max_age: float | dt.timedelta | str | None = None,
        prune_every: int | None = None,
        **storage_options: Any,
    ) -> None:
        self._progress_option = progress
        self._keep_versions = _versions.check_keep(keep_versions, f"store {url}")
        self.progress: bool = _progress.enabled(progress)
        """Whether long operations on this store draw progress bars."""
        key = _signing_key_from(signing_key)
        self._signer = Signer(key) if key is not None else None
        self._read_only = bool(read_only)
        given = {**storage_options, "signing_key": key.decode(errors="replace") if key else None}
        self._secrets = secret_values(given)
        try:
            self._storage = Storage(url, storage_options)
        except ArtifactStoreError as exc:
            raise type(exc)(redact(str(exc), self._secrets)) from exc.__cause__
        self._options = storage_options
        # A local store is named by its absolute path, so that a pickled store still
        # points at the same folder from a worker started in another directory.
        self._url = self._storage.root if self._storage.is_local else url
        # What the store shows of itself: never a password written into the URL.
        self.location: str = redact_url(self._url)
        self._storage.url = self.location  # the storage layer's messages name it so too
        self._storage.read_only = self._read_only
        self._marker_written = False
        # Digests whose payload failed its check here: the next save rewrites them
        # instead of trusting the file that is there.
        self._damaged: set[str] = set()
        # Digests of payloads this store has written (object stores: not written again).
        self._written: set[str] = set()
        self._list_memo: tuple[Any, ...] | None = None
        self._valid_step_id: str | None = None  # the last step id `_check` found valid
        self._limits = {"max_size": max_size, "max_count": max_count, "max_age": max_age}
        self._limits["prune_every"] = prune_every
        policy = _retention.RetentionPolicy.of(**self._limits, store=self.location)
        self._retention = _retention.Retention(
            self._storage, policy, read_only=self._read_only, keep_versions=self._keep_versions
        )

    # ------------------------------------------------------------------ dunder
    def __repr__(self) -> str:
        return f"ArtifactStore({self.location!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # The signing key travels with the store, as its credentials do (docs/security.md).
        trust: dict[str, Any] = {"read_only": self._read_only}
        if self._keep_versions is not None:
            trust["keep_versions"] = self._keep_versions
        if self._signer is not None:
            trust["signing_key"] = self._signer._key
        else:
            trust["signing_key"] = ""  # not the worker's environment: the same store
        limits = {k: v for k, v in self._limits.items() if v is not None}
        return (_reopen, (self._url, self._options, trust, self._progress_option, limits))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ArtifactStore):
            return NotImplemented
        return (self.location, self._options) == (other.location, other._options)

    def __hash__(self) -> int:
        return hash(self.location)

    def _repr_html_(self) -> str:
        try:
            infos: list[ArtifactInfo] | ArtifactStoreError = self.list()
        except ArtifactStoreError as exc:
            infos = exc
        return store_html(self.location, infos)

    @property
    def storage_options(self) -> Mapping[str, Any]:
        """The storage options this store was opened with (read-only)."""
        return dict(self._options)

    @property
    def read_only(self) -> bool:
        """True if the store was opened with ``read_only=True`` (nothing can be changed)."""
        return self._read_only

    @property
    def keep_versions(self) -> int | None:
        """How many versions per step and key saves keep (None: every one)."""
        return self._keep_versions

    @property
    def retention(self) -> _retention.RetentionPolicy:
        """The store's limits (``max_size``, ``max_count``, ``max_age``), checked."""
        return self._retention.policy

    @property
    def signing(self) -> bool:
        """True if the store has a signing key: it signs what it saves, loads only signed."""
        return self._signer is not None

    def verified(self, info: ArtifactInfo) -> bool | None:
        """Whether ``info`` carries a valid signature by this store's key.

        None if the store has no signing key (it cannot tell).

        Examples:
            >>> store = ArtifactStore("memory://doc-verified", signing_key="team-key")
            >>> store.verified(store.save("extract", [1, 2]))
            True
        """
        return None if self._signer is None else self._signer.verified(info)

    @property
    def fs(self) -> Any:
        """The fsspec filesystem under the store (for advanced use)."""
        return self._storage.fs

    # ------------------------------------------------------------------ errors
    def _fail(self, what: str, step_id: str | None, exc: BaseException) -> NoReturn:
        hint = ""
        if isinstance(exc, PermissionError):
            hint = "; check the credentials (environment, profile or storage options)"
        subject = f"{what} step {step_id!r}" if step_id is not None else what
        msg = f"{subject} in store {self.location} failed: {type(exc).__name__}: {exc}{hint}"
        raise ArtifactStoreError(redact(msg, self._secrets)) from exc

    def _io(self, what: str, step_id: str | None = None) -> _Guard:
        """Turn a backend's exception into an ArtifactStoreError naming step and store.

        The store's format marker is checked here, once, before the first operation.
        """
        return _Guard(self, what, step_id)

    def _bar(
        self, total: int, what: str, *, unit: str = "B"
    ) -> contextlib.AbstractContextManager[_progress.Bar]:
        """A progress bar for ``what`` if this store shows them and ``total`` is large."""
        least = _progress.MIN_BYTES if unit == "B" else _progress.MIN_RECORDS
        if not (self.progress and total >= least):
            return _progress.NO_BAR  # the usual case, on the hit path of memoised calls
        return _progress.bar(total, what, unit=unit, show=True)

    def _writable(self, what: str) -> None:
        if self._read_only:
            msg = (
                f"store {self.location} is open read-only: cannot {what} "
                "(open it without read_only=True to change it)"
            )
            raise ReadOnlyStoreError(msg)

    def _check_signature(self, info: ArtifactInfo) -> None:
        if self._signer is not None:
            where = self._where(info)
            self._signer.check_record(info, where)

    def _trusted(self, digest: str) -> bool:
        return digest not in self._damaged

    def _payload_missing(self, info: ArtifactInfo) -> PayloadMissingError:
        """The error for a record whose payload is gone (a later save uploads it again)."""
        self._written.discard(info.digest)
        msg = (
            f"the payload of step {info.step_id!r} key {info.key!r} is missing "
            f"from store {self.location} (digest {info.digest}); save the step again"
        )
        return PayloadMissingError(msg)

    def _not_found(self, step_id: str, key: str | None) -> ArtifactNotFoundError:
        which = f" with key {key!r}" if key is not None else ""
        note = missing_folder_note(self.location)
        error = ArtifactNotFoundError(
            f"no artifact for step {step_id!r}{which} in store {self.location}{note}"
        )
        if key is None and not note:
            # A typo in a step id is the usual reason; listing the store costs, so the
            # suggestion is made only if the message is read.
            error.with_hint(lambda: did_you_mean(step_id, (i.step_id for i in self.list())))
        return error

    def _check(self, step_id: str, key: str | None) -> None:
        if type(step_id) is not str or step_id != self._valid_step_id:
            validate_step_id(step_id, store=self.location)
            if type(step_id) is str:  # (a subclass may compare equal to anything)
                self._valid_step_id = step_id  # (calls for the same step, as hits, skip it)
        if key is not None:
            validate_key(key, step_id=step_id, store=self.location)

    # ------------------------------------------------------------------ write
    def save(
        self,
        step_id: str,
        obj: Any,
        *,
        key: str | None = None,
        tags: Mapping[str, str] | None = None,
        serializer: str | None = None,
        mime_type: str | None = None,
        compress: str | None = None,
        inputs: Iterable[ArtifactRef] = (),
        code_fingerprint: str | None = None,
        duration: float | None = None,
        args_repr: str | None = None,
        extra: Mapping[str, Any] | None = None,
        recipe: KeyRecipe | None = None,
    ) -> ArtifactInfo:
        """Store ``obj`` as the artifact of ``step_id`` and return its record.

        The payload is written whole before the record that points to it, so readers
        see the previous artifact or this one, never a torn one. Identical payloads are
        stored once. ``key`` defaults to ``"default"``; ``serializer`` to ``"pickle"``
        (cloudpickle); ``"raw"`` stores bytes with ``mime_type``, ``"json"`` JSON text,
        ``"parquet"`` a pandas or polars DataFrame or a pyarrow Table as a Parquet file.
        ``compress`` names a codec (``"zstd"``, ``"gzip"``, ``"bz2"``, ``"lzma"``; see
        ``artifact_cache.compression``) that compresses a pickle or json payload; the record
        keeps it (``info.compression``), its digest and size are of the compressed bytes,
        and ``get``, ``load`` and ``open`` decompress. ``extra`` holds further JSON-able
        fields kept in the record (the decorator keeps what ``.explain()`` compares there).

        Raises:
            InvalidStepIdError: ``step_id`` or ``key`` is malformed (nothing is written).
            SerializationError: ``obj`` cannot be serialised, or ``compress`` names an
                unknown codec or is given for a raw or parquet artifact (nothing is written).
            MissingDependencyError: the serializer or codec needs a package that is not
                installed (pyarrow, zstandard; the message names the extra).
            InvalidOptionError: a value for the record is one readers would refuse (a
                negative or NaN ``duration``, an input naming an invalid step id, ``extra``
                nested deeper than 32 levels); the previous artifact is intact.
            ArtifactStoreError: the filesystem failed; the previous artifact is intact.

        Examples:
            >>> store = ArtifactStore("memory://doc-save")
            >>> store.save("report", b"a,b\\n1,2\\n", serializer="raw", mime_type="text/csv").size
            8
            >>> store.save("rows", list(range(1000)), compress="gzip").compression
            'gzip'
        """
        info = _saving.save(
            self,
            step_id,
            obj,
            key=key,
            tags=tags,
            serializer=serializer,
            mime_type=mime_type,
            compress=compress,
            inputs=inputs,
            code_fingerprint=code_fingerprint,
            duration=duration,
            args_repr=args_repr,
            extra=extra,
            recipe=recipe,
        )
        self._retention.saved(self)  # every so many saves: enforce the store's limits
        return info

    # ------------------------------------------------------------------ read
    def _record(self, step_id: str, key: str, data: bytes) -> ArtifactInfo:
        """The record stored at ``refs/<step_id>/@<key>.json``, parsed and checked
        (`record_at`, whose errors here say to save the step again or delete it)."""
        return record_at(step_id, key, data, self.location, remedy=_REMEDY)

    @staticmethod
    def _skip(bad: Iterable[RecordError], stacklevel: int = 3) -> None:
        for exc in bad:
            # user -> list/artifacts/info -> _skip
            warnings.warn(f"skipping a record: {exc}", stacklevel=stacklevel)

    def info(
        self, step_id: str, *, key: str | None = None, version: str | None = None
    ) -> ArtifactInfo:
        """Return the record of an artifact without reading its payload.

        Without ``key``, the most recently saved artifact of the step. ``version`` (an id
        from [`versions`][ArtifactStore.versions]) returns that version, whatever its
        status (without ``key``, found among every key of the step).

        Examples:
            >>> store = ArtifactStore("memory://doc-info")
            >>> _ = store.save("extract", [1, 2, 3])
            >>> store.info("extract").python_type
            'builtins.list'
        """
        self._check(step_id, key)
        if version is not None:
            return self._version_info(step_id, key, version)
        if key is not None:
            return self._keyed(step_id, key)
        storage = self._storage
        with self._io("reading", step_id):
            newest = _listing.newest_indexed(self, step_id)
            if newest is not None:
                return newest
            infos, bad = _listing.records(
                self, storage.read_records(storage.step_record_names(step_id))
            )
        if infos:
            self._skip(bad)
            return infos[0]
        if bad:
            raise bad[0]  # every record of the step is bad: that is not "no artifact"
        raise self._not_found(step_id, None)

    def _version_info(self, step_id: str, key: str | None, version: str) -> ArtifactInfo:
        with self._io("reading a version of", step_id):
            info, bad = _versions.find(self._storage, step_id, key, version)
        self._skip(bad, stacklevel=4)
        return info

    def versions(self, step_id: str, *, key: str | None = None) -> ArtifactList:
        """Every version of a step (of ``key``, or of all its keys), newest first.

        Each save is a version; its ``status`` is ``"active"`` for the one
        [`get`][ArtifactStore.get] returns, ``"tombstoned"`` for the one `delete` removed,
        ``"superseded"`` for the others. ``get(step_id, version=...)`` loads any of them.

        Examples:
            >>> store = ArtifactStore("memory://doc-versions")
            >>> _ = store.save("extract", 1), store.save("extract", 2)
            >>> [i.status for i in store.versions("extract")]
            ['active', 'superseded']
            >>> store.get("extract", version=store.versions("extract")[1].version)
            1
        """
        self._check(step_id, key)
        with self._io("listing the versions of", step_id):
            infos, bad = _versions.history(self._storage, step_id, key)
        self._skip(bad)
        return ArtifactList(infos)

    def _keyed(self, step_id: str, key: str) -> ArtifactInfo:
        """The record of ``step_id`` and ``key`` (both checked already), read afresh."""
        storage = self._storage
        if not storage._format_checked:
            with self._io("reading", step_id):
                storage.check_format()
        try:  # (what `_io` does, inline: this is every memoised hit's path)
            data = storage.read_record(step_id, key)
        except FileNotFoundError:
            raise self._not_found(step_id, key) from None
        except (ArtifactStoreError, KeyboardInterrupt):
            raise
        except Exception as exc:
            self._fail("reading", step_id, exc)
        return self._record(step_id, key, data)

    def artifacts(self, step_id: str) -> ArtifactList:
        """Records of exactly this step id (all its keys, not child ids), newest first.

        Examples:
            >>> store = ArtifactStore("memory://doc-artifacts")
            >>> _ = store.save("feat", 1, key="a"), store.save("feat/sub", 2)
            >>> [i.key for i in store.artifacts("feat")]
            ['a']
        """
        self._check(step_id, None)
        storage = self._storage
        with self._io("listing", step_id):
            listing = storage.indexed_listing(step_id=step_id)
            rows = storage.indexed_records(step_id=step_id) if listing is None else None
            if listing is not None:
                infos, bad = list(listing[0]), _listing.from_index(self, listing[1])[1]
            elif rows is not None:
                infos, bad = _listing.from_index(self, rows)
            else:
                infos, bad = _listing.records(
                    self, storage.read_records(storage.step_record_names(step_id))
                )
        self._skip(bad)
        return ArtifactList(infos)

    def get(
        self,
        step_id: str,
        *,
        key: str | None = None,
        version: str | None = None,
        mmap_mode: str | None = None,
    ) -> Any:
        """Load an artifact: an equal, independent copy of what was saved.

        ``version`` loads that version of the step (see [`versions`][ArtifactStore.versions]),
        superseded or tombstoned ones included.

        ``mmap_mode="r"`` (local stores) returns the arrays of a pickled artifact backed
        by a read-only memory map of the payload file, as ``joblib.load(mmap_mode="r")``
        does; ``"c"`` maps it copy-on-write (writable; changes stay in this process). See
        [`load`][ArtifactStore.load].

        Raises:
            ArtifactNotFoundError: nothing is stored under ``step_id`` (and ``key``, and
                ``version``).
            IntegrityError: the payload does not match its digest; it is not unpickled.

        Examples:
            >>> store = ArtifactStore("memory://doc-get")
            >>> _ = store.save("extract", {"a": 1})
            >>> store.get("extract")
            {'a': 1}
        """
        if mmap_mode is not None:
            _check_mmap_mode(mmap_mode, step_id, self.location)
        if key is None or version is not None:
            info = self.info(step_id, key=key, version=version)
            return self.load(info, mmap_mode=mmap_mode)
        self._check(step_id, key)
        return self._load(self._keyed(step_id, key), mmap_mode)

    def _where(self, info: ArtifactInfo) -> str:
        """``step 'x' key 'k' in store URL``: what an error about one artifact names."""
        return f"step {info.step_id!r} key {info.key!r} in store {self.location}"

    def load(self, info: ArtifactInfo, *, mmap_mode: str | None = None) -> Any:
        """Load the artifact an [`ArtifactInfo`][] describes (skips the record read).

        The payload's size and digest are checked before anything is unpickled; a large
        payload is hashed while it is read, chunk by chunk, into the buffer its arrays
        then wrap.

        ``mmap_mode`` (``None``, ``"r"`` or ``"c"``): on a local store, map the payload
        file instead of reading it. Arrays (out-of-band buffers of 8 KiB or more) then
        wrap the map: read-only with ``"r"``, copy-on-write with ``"c"``; their pages
        live in the OS page cache, shared by every process that maps the same payload.
        The digest is still checked first, which reads the whole file once, so a mapped
        load is not instant as joblib's is (joblib checks nothing). On other stores
        (``memory://``, object stores) ``mmap_mode`` is ignored: the artifact is read
        into memory as usual, and its arrays are writable; so it is for a payload of up to
        16 KiB, stored inside its record (already read, checked all the same), and for a
        compressed payload (``info.compression``), decompressed into memory after the check.

        Examples:
            >>> store = ArtifactStore("memory://doc-load")
            >>> store.load(store.save("extract", [1, 2]))
            [1, 2]
        """
        if mmap_mode is not None:
            _check_mmap_mode(mmap_mode, info.step_id, self.location)
        if not is_digest(info.digest):
            where = self._where(info)
            raise IntegrityError(f"the record of {where} names {info.digest!r:.80}, not a digest")
        return self._load(info, mmap_mode)

    def _load(self, info: ArtifactInfo, mmap_mode: str | None) -> Any:
        """`load`, once ``mmap_mode`` and the record's digest are known to be valid (as
        in every record read from the store: it was checked when parsed)."""
        if self._signer is not None:
            self._check_signature(info)
        problem = ""
        digest: str | None = None
        if info.inline is not None:  # in the record: nothing more to read
            try:
                data = memoryview(bytearray(a2b_base64(info.inline)))  # (as b64decode)
            except ValueError as exc:  # (a record read from a store is checked already)
                self._fail("loading", info.step_id, exc)
            size, digest = data.nbytes, hash_bytes(data)
        else:
            hasher = new_hasher()
            with (
                self._io("loading", info.step_id),
                self._bar(info.size, f"loading {info.step_id}"),
            ):
                try:
                    data = self._storage.read_object(
                        info.digest, info.size, hasher=hasher, mmap_mode=mmap_mode
                    )
                except FileNotFoundError:
                    raise self._payload_missing(info) from None
                except SizeMismatch as exc:  # a large payload's size, checked before reading
                    data, size = memoryview(b""), exc.actual
                else:
                    size = len(data)
                    digest = hasher.hexdigest()
        if size != info.size:
            problem = f"is {size} bytes, {info.size} recorded (truncated?)"
        elif digest != info.digest:  # checked before unpickling, always
            problem = f"does not match its digest {info.digest}"
        elif self._signer is not None:
            problem = self._signer.payload_problem(data, info)
        if problem:
            self._damaged.add(info.digest)
            where = self._where(info)
            msg = f"the payload of {where} {problem}; not loaded (saving the step again repairs it)"
            raise IntegrityError(msg)
        try:
            if info.compression is not None:
                data = _compression.decompress(data, info.compression)
            ser = get_serializer(info.serializer)
            typed = getattr(ser, "loads_as", None)
            obj = ser.loads(data) if typed is None else typed(data, info.python_type)
        except MissingDependencyError as exc:
            msg = f"loading {self._where(info)}: {exc}"
            raise MissingDependencyError(msg, name=exc.name) from exc
        except Exception as exc:
            msg = f"cannot deserialise {self._where(info)}: {type(exc).__name__}: {exc}"
            raise SerializationError(msg) from exc
        _provenance.remember_result(obj, info, info.size)
        self._retention.used(info.step_id, info.key)  # kept in memory, written coarsely
        return obj

    def exists(self, step_id: str, *, key: str | None = None) -> bool:
        """True if an artifact is stored for ``step_id`` (and ``key``).

        Examples:
            >>> ArtifactStore("memory://doc-exists").exists("extract")
            False
        """
        self._check(step_id, key)
        with self._io("checking", step_id):
            if key is not None:
                return self._storage.has_record(step_id, key)
            return bool(self._storage.step_record_names(step_id))

    def list(
        self,
        prefix: str = "",
        *,
        tags: Mapping[str, str] | None = None,
        type: str | type | None = None,
        status: str | None = "active",
        created_after: dt.datetime | dt.date | str | None = None,
        created_before: dt.datetime | dt.date | str | None = None,
        limit: int | None = None,
    ) -> ArtifactList:
        """Records of every artifact whose step id starts with ``prefix``, newest first.

        Reads records only, never payloads; on object stores their texts come from the
        store's manifest of records where it holds them at their listed version, and the
        others are fetched concurrently. ``tags`` keeps the artifacts having all of the
        given tags; ``type`` those of a recorded Python type (a class, or a name such as
        ``"pandas.DataFrame"``); ``created_after``/``created_before`` those created in
        ``[after, before)`` (datetimes, dates or ISO text; no zone means UTC); ``limit``
        the newest that many. Where the store has an index, tags, times and limit are
        applied before any record is parsed. ``status``: ``"active"`` (default) lists
        the artifacts `get` finds; ``"superseded"`` or ``"tombstoned"`` the versions of
        that status, ``None`` every version (these read the version records too). See
        ``docs/lifecycle.md``.

        Raises:
            InvalidQueryError: a filter is not of an accepted form (before any I/O).

        Examples:
            >>> store = ArtifactStore("memory://doc-list")
            >>> _ = store.save("deals/A/cim", 1), store.save("deals/B/cim", 2), store.save("x", 3)
            >>> sorted(i.step_id for i in store.list("deals/"))
            ['deals/A/cim', 'deals/B/cim']
            >>> [i.step_id for i in store.list(type=int, limit=1)]
            ['x']
        """
        query = Query.of(
            tags=tags,
            type=type,
            created_after=created_after,
            created_before=created_before,
            limit=limit,
            store=self.location,
        )
        folder = prefix.rpartition("/")[0]
        if folder:
            validate_step_id(folder, store=self.location)
        if prefix and ("\\" in prefix or "://" in prefix or any(ord(c) < 32 for c in prefix)):
            validate_step_id(prefix, store=self.location)
        if status != "active":
            with self._io("listing versions"):
                versions, errors = _versions.listing(self._storage, prefix, status, tags)
            self._skip(errors)
            return ArtifactList(versions if query.empty else query.apply(versions))
        with self._io(f"listing artifacts under {prefix!r}" if prefix else "listing artifacts"):
            infos, bad = _listing.active(self, prefix, folder, query)
        self._skip(bad)
        return ArtifactList(infos if query.empty else query.apply(infos))

    def lineage(
        self, step_id: str, *, key: str | None = None, depth: int | None = None
    ) -> ArtifactList:
        """Everything the artifact was computed from: its inputs, theirs, and so on.

        Breadth-first (direct inputs first), each artifact once, safe against cycles;
        ``depth=1`` gives the direct inputs only (None: all). Without ``key``, the newest
        artifact of the step. An input whose record is gone, or whose step and key hold
        a later artifact now, is left out with a warning. Reads records, never payloads.
        See ``docs/lifecycle.md``.

        Raises:
            ArtifactNotFoundError: nothing is stored under ``step_id`` (and ``key``).
            InvalidQueryError: ``depth`` is not a whole number of 0 or more.

        Examples:
            >>> store = ArtifactStore("memory://doc-lineage-query")
            >>> raw = store.save("raw", [3, 1, 2])
            >>> clean = store.save("clean", [1, 2, 3], inputs=[raw.ref])
            >>> _ = store.save("model", {"w": 1}, inputs=[clean.ref])
            >>> [i.step_id for i in store.lineage("model")]
            ['clean', 'raw']
        """
        return ArtifactList(_lineage.lineage(self, step_id, key=key, depth=depth))

    def downstream(self, step_id: str, *, key: str | None = None) -> ArtifactList:
        """Everything computed from the artifact, directly or not, breadth-first (oldest
        first within one level).

        Found in one listing of the store (records only). Without ``key``, the newest
        artifact of the step. A record computed from an earlier artifact of the step
        (another digest) is not downstream of this one. See ``docs/lifecycle.md``.

        Examples:
            >>> store = ArtifactStore("memory://doc-downstream")
            >>> raw = store.save("raw", [3, 1, 2])
            >>> clean = store.save("clean", [1, 2, 3], inputs=[raw.ref])
            >>> _ = store.save("model", {"w": 1}, inputs=[clean.ref])
            >>> [i.step_id for i in store.downstream("raw")]
            ['clean', 'model']
        """
        return ArtifactList(_lineage.downstream(self, step_id, key=key))

    def open(self, step_id: str, *, key: str | None = None) -> IO[bytes]:
        """A binary file object streaming the stored payload (not digest-checked).

        For a ``raw`` artifact these are exactly the bytes saved; for a ``parquet`` one a
        Parquet file (``pd.read_parquet(store.open(step))``). A compressed payload is
        decompressed as it is read: the stream gives the serialised bytes, not the stored
        ones (which `url` links to).

        Raises:
            MissingDependencyError: the payload is compressed with a codec whose package
                is not installed here.

        Examples:
            >>> store = ArtifactStore("memory://doc-open")
            >>> _ = store.save("report", b"hello", serializer="raw")
            >>> with store.open("report") as f:
            ...     f.read()
            b'hello'
        """
        info = self.info(step_id, key=key)
        return _payloads.stream(self, info)

    def url(self, step_id: str, *, key: str | None = None, expires: int = 3600) -> str:
        """A URL to the payload: presigned on S3 (valid ``expires`` seconds), file:// locally.

        A small payload stored inside its record gets a file of its own first (kept by
        `gc` while the record exists); on a read-only store without that file this is a
        ReadOnlyStoreError.

        Raises ArtifactStoreError on filesystems that have no URLs (``memory://``), and
        IntegrityError, as `open` does, if the store has a signing key that did not sign
        the record (whoever follows the link gets the bytes the record names).
        """
        info = self.info(step_id, key=key)
        return _payloads.link(self, info, expires)

    # ------------------------------------------------------------------ remove
    def delete(self, step_id: str, *, key: str | None = None, purge: bool = False) -> bool:
        """Delete an artifact (all keys of the step unless ``key``); True if any existed.

        `get`, `exists` and `list` no longer find it; its version history stays, the
        deleted version marked ``"tombstoned"`` (see `versions`), and so do the payloads
        the history names. ``purge=True`` removes the history too (True if there was
        any); payloads no record names any more are then left for [`gc`][].

        Examples:
            >>> store = ArtifactStore("memory://doc-delete")
            >>> _ = store.save("extract", 1)
            >>> store.delete("extract"), store.delete("extract")
            (True, False)
            >>> [i.status for i in store.versions("extract")]
            ['tombstoned']
            >>> store.delete("extract", purge=True), store.versions("extract")
            (True, [])
        """
        self._check(step_id, key)
        self._writable(f"delete step {step_id!r}")
        with self._io("deleting", step_id):
            return _versions.delete(self._storage, step_id, key, purge=purge)

    def clear(self) -> int:
        """Remove every artifact and payload; return how many artifacts there were.

        Examples:
            >>> store = ArtifactStore("memory://doc-clear")
            >>> _ = store.save("a", 1), store.save("b", 2)
            >>> store.clear()
            2
        """
        self._writable("clear it")
        with self._io("clearing"):
            return _garbage.clear(self)

    def gc(self, *, grace: float = 3600.0, dry_run: bool = False) -> GcReport:
        """Remove payloads no record points to, and temporaries left by crashed saves.

        Files younger than ``grace`` seconds are kept: a save in flight writes its
        payload before its record. Safe while other processes save: on local disks a
        lock keeps a save that re-uses a payload and the removal apart; on object stores
        a window of one round trip remains (see ``docs/format.md``, "Garbage").
        """
        if not dry_run:
            self._writable("collect garbage")
        with self._io("collecting garbage"):
            return _garbage.gc(self, grace=grace, dry_run=dry_run)

    def prune(
        self,
        *,
        dry_run: bool = False,
        grace: float = _retention.GRACE,
        max_size: int | str | None = None,
        max_count: int | None = None,
        max_age: float | dt.timedelta | str | None = None,
    ) -> _retention.PruneReport:
        """Enforce the store's limits now; return what was removed (would be, ``dry_run``).

        ``max_size``, ``max_count`` and ``max_age`` replace the store's own limits for this
        call. The least recently used artifacts go first (a read counts as a use);
        ``max_age`` removes those created longer ago. Artifacts saved after the prune
        started are never removed, and a payload goes only if no record names it and it
        is older than ``grace`` seconds. See ``docs/lifecycle.md``.

        Examples:
            >>> store = ArtifactStore("memory://doc-prune", max_count=2, prune_every=0)
            >>> for name in ("a", "b", "c"):
            ...     _ = store.save(name, name)
            >>> _ = store.get("a")  # a read: "a" is now used more recently than "b"
            >>> [a.step_id for a in store.prune().removed]
            ['b']
        """
        if not dry_run:
            self._writable("prune it")
        policy = self._retention.policy
        given = {"max_size": max_size, "max_count": max_count, "max_age": max_age}
        if any(v is not None for v in given.values()):
            limits = {k: v if v is not None else getattr(policy, k) for k, v in given.items()}
            policy = _retention.RetentionPolicy.of(**limits, store=self.location)
        with self._io("pruning"):
            return _retention.prune(self, policy, dry_run=dry_run, grace=grace)

    def _referenced(
        self, *, warn: bool = True, versions_listed: set[VersionName] | None = None
    ) -> set[str]:
        """Every digest a record names, read afresh; what ``gc`` must keep.

        A record that is not of the documented form still protects every digest-shaped
        string in it (with a warning naming it). A record that cannot be read at all
        stops ``gc``: it might name any payload. ``versions_listed``: given the version
        files the listing found.
        """
        return _garbage.referenced(self, warn=warn, versions_listed=versions_listed)

    # ------------------------------------------------------------------ layers above
    @overload
    def step(self, func: Callable[P, R], /) -> StepFunction[R, P]: ...
    @overload
    def step(
        self,
        step_id: str | None = None,
        /,
        *,
        ignore: Sequence[str] = (),
        version: str | None = None,
        tags: Mapping[str, str] | None = None,
        depends_on: Sequence[Any] = (),
        serializer: str | None = None,
        compress: str | None = None,
        include_self: bool = False,
        max_age: float | dt.timedelta | None = None,
    ) -> Callable[[Callable[P, R]], StepFunction[R, P]]: ...
    def step(self, func_or_id: Any = None, /, **options: Any) -> Any:
        """Memoise a function in this store; see [`step`][]."""
        from .decorators import step

        return step(self, func_or_id, **options)

    def browse(self, **options: Any) -> ArtifactBrowser:
        """An ipywidgets browser over this store (needs the ``notebook`` extra).

        Raises:
            MissingDependencyError: ipywidgets is not installed (the message names the extra).
        """
        try:
            from .widget import ArtifactBrowser
        except ModuleNotFoundError as exc:
            # Whatever the widget's toolkit is missing, the notebook extra brings it.
            missing = (exc.name or "").split(".")[0]
            if not missing or missing == __name__.split(".")[0]:
                raise
            msg = f"store.browse() needs {missing}: {install_hint('notebook', missing)}"
            raise MissingDependencyError(msg, name=missing) from exc

        return ArtifactBrowser(self, **options)


class _Guard:
    """What `ArtifactStore._io` returns: a context that checks the store's format on
    entry (once per store) and turns a backend's exception into an ArtifactStoreError
    naming the step and the store (a class: it is on every hit's path)."""

    __slots__ = ("step_id", "store", "what")

    def __init__(self, store: ArtifactStore, what: str, step_id: str | None) -> None:
        self.store, self.what, self.step_id = store, what, step_id

    def __enter__(self) -> None:
        storage = self.store._storage
        if not storage._format_checked:
            try:
                storage.check_format()
            except (ArtifactStoreError, KeyboardInterrupt):
                raise
            except Exception as exc:
                self.store._fail(self.what, self.step_id, exc)

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, Exception) and not isinstance(exc, ArtifactStoreError):
            self.store._fail(self.what, self.step_id, exc)


MMAP_MODES = (None, "r", "c")
"""The ``mmap_mode`` values loads accept (joblib's ``"r+"`` and ``"w+"`` would write into
stored payloads, which are shared and named by their content)."""


def _check_mmap_mode(mode: object, step_id: str, location: str) -> None:
    if mode not in MMAP_MODES:
        msg = (
            f"loading step {step_id!r} from store {location}: mmap_mode must be None, "
            f"'r' (read-only) or 'c' (copy-on-write), not {mode!r}"
        )
        raise ArtifactStoreError(msg)
