"""Saving an artifact: serialise (and compress) it, publish its payload, write its record.

The payload is serialised before any I/O, so a failing serializer writes nothing; it is
published whole (or stored inside its record when small) before the record that names
it. `ArtifactStore.save` delegates here; the store is passed in (imported for typing
only). The record is built from values the save made valid (`new_record`), and noted
as checked for reads in this process (`remember_written`). May import errors, info,
record_values, serializers, compression and storage.
"""

from __future__ import annotations

import base64
import datetime as dt
import reprlib
from collections.abc import Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from . import compression as _compression
from .digest import hash_bytes
from .errors import InvalidOptionError, MissingDependencyError, RecordError, SerializationError
from .fingerprint.recipe import KeyRecipe, as_recipe
from .info import (
    INLINE_MAX,
    RECORD_FIELDS,
    ArtifactInfo,
    ArtifactRef,
    _assemble,
    _frozen_tags,
    _ParsedRecords,
    _refs,
    checked_record,
    keep_checked,
    new_version_id,
)
from .provenance import tracker as _provenance
from .readonly import read_only as _read_only
from .record_values import (
    _check_depth,
    _digest,
    _inline,
    _key,
    _payload_hash,
    _seconds,
    _size,
    _step_id,
    _version_id,
)
from .record_values import _compression as _codec_field
from .serializers import get_serializer
from .stepid import DEFAULT_KEY

if TYPE_CHECKING:
    from .store import ArtifactStore

__all__ = ["new_record", "remember_written", "save"]

_WRITTEN_MAX = 100_000
"""How many digests of payloads it wrote a store remembers (then it forgets them all)."""


def save(
    store: ArtifactStore,
    step_id: str,
    obj: Any,
    *,
    key: str | None,
    tags: Mapping[str, str] | None,
    serializer: str | None,
    mime_type: str | None,
    compress: str | None,
    inputs: Iterable[ArtifactRef],
    code_fingerprint: str | None,
    duration: float | None,
    args_repr: str | None,
    extra: Mapping[str, Any] | None,
    recipe: KeyRecipe | None,
) -> ArtifactInfo:
    """Store ``obj`` as the artifact of ``step_id`` in ``store``: what
    `ArtifactStore.save` does (and documents), but for enforcing the store's limits
    afterwards, which the store does (its warnings name the caller of ``store.save``)."""
    key = DEFAULT_KEY if key is None else key
    store._check(step_id, key)
    store._writable(f"save step {step_id!r}")
    inputs = tuple(inputs)
    given = {
        "mime_type": mime_type,
        "code_fingerprint": code_fingerprint,
        "duration": duration,
        "args_repr": args_repr,
        "inputs": inputs,
        "extra": extra,
    }
    _check_given(store, step_id, given)
    name = serializer or "pickle"
    try:
        ser = get_serializer(name)
    except ValueError as exc:
        raise SerializationError(f"step {step_id!r} in store {store.location}: {exc}") from None
    if compress is not None:
        compress = _codec(store, compress, ser, step_id)
    try:
        chunks = ser.dumps(obj)
        if compress is not None:
            chunks = [_compression.compress(chunks, compress)]
    except MissingDependencyError as exc:
        msg = f"saving step {step_id!r} in store {store.location}: {exc}"
        raise MissingDependencyError(msg, name=exc.name) from exc
    except Exception as exc:
        msg = (
            f"cannot serialise the {_python_type(obj)} returned for step {step_id!r} "
            f"with the {name!r} serializer (store {store.location}); nothing was saved: "
            f"{type(exc).__name__}: {exc}"
        )
        raise SerializationError(msg) from exc
    size = sum(memoryview(c).nbytes for c in chunks)
    storage = store._storage
    # A save whose payload is a file holds the store's gc lock (shared) from publishing
    # it to checking it after the record: a gc or prune removes payloads only when no
    # such save is in between (see storage/gclock). Small payloads never take it.
    with store._io("saving", step_id), storage.payload_hold() as hold:
        if not store._marker_written:
            storage.ensure_marker()
            store._marker_written = True
        # A keyed store hashes the payload cryptographically in the same pass.
        signer = store._signer
        hashing = signer.hashing(chunks, hash_bytes) if signer is not None else None
        digest_of = hashing or partial(hash_bytes, *chunks)
        known = None
        inline = None
        if size <= INLINE_MAX:
            # A small payload goes inside its record: one file, one write, one read.
            digest = known = digest_of()
            inline = base64.b64encode(b"".join(chunks)).decode("ascii")
        elif storage.remote:
            # On an object store a payload this store wrote itself is not written
            # again: the record goes first, and the check below puts the payload back
            # if a gc or clear removed it meanwhile (as it does after any save).
            digest = digest_of()
            known = digest if digest in store._written and store._trusted(digest) else None
            digest_of = partial(str, digest)
        if known is None:
            with store._bar(size, f"saving {step_id}"):
                digest, _reused = storage.publish_object(
                    chunks,
                    size,
                    digest_of,
                    reuse=store._trusted,
                    hash_of=hash_bytes,
                    ready=hold.take,
                )
        else:
            digest = known
        store._damaged.discard(digest)
        created = dt.datetime.now(dt.UTC)
        info = new_record(
            step_id=step_id,
            key=key,
            digest=digest,
            size=size,
            serializer=name,
            mime_type=mime_type or (None if name == "pickle" else ser.mime_type),
            python_type=_python_type(obj),
            tags=tags,
            inputs=inputs,
            code_fingerprint=code_fingerprint,
            duration=duration,
            args_repr=args_repr,
            uri=None if inline is not None else storage.object_uri(digest),
            extra=extra,
            recipe=recipe,
            inline=inline,
            compression=compress,
            created=created,
            version=new_version_id(created),
        )
        if signer is not None and hashing is not None:
            info = signer.seal(info, hashing.strong)
        record = info.to_json().encode()
        try:  # (kept for reads in this process, so it is not parsed again)
            remember_written(record, info, made=signer is None)
        except RecordError as exc:  # never a record that readers would refuse
            msg = (
                f"cannot save step {step_id!r} in store {store.location}: {exc}; no record written"
            )
            raise InvalidOptionError(msg) from None
        if inline is None:
            hold.take()
        # The version record first, then the head naming it (the active version).
        storage.put_record(step_id, key, record, version=info.version)
        if inline is None and not storage.has_object(digest, size):
            # A concurrent gc or clear removed the payload between our write (or check)
            # and our record: put it back, so that no visible record lacks its payload.
            storage.put_object(digest, chunks, size)
        if len(store._written) > _WRITTEN_MAX:
            store._written.clear()
        store._written.add(digest)
    _provenance.remember_result(obj, info, size)
    return info


def new_record(
    *, step_id: str, key: str, digest: str, size: int, serializer: str, python_type: str,
    created: dt.datetime, mime_type: str | None, tags: Mapping[str, str] | None,
    inputs: tuple[ArtifactRef, ...], code_fingerprint: str | None, duration: float | None,
    args_repr: str | None, uri: str | None, recipe: KeyRecipe | None, inline: str | None,
    compression: str | None, version: str, extra: Mapping[str, Any] | None,
) -> ArtifactInfo:  # fmt: skip
    """The record of a save: ``ArtifactInfo(...)`` of these values, with its converters
    run only on the values that need them (a save's ids, digest, time and version are
    made by the store in their final form)."""
    return _assemble(
        step_id, key, digest, size, serializer, python_type, created, mime_type,
        _frozen_tags(tags), _refs(inputs) if inputs else (),
        code_fingerprint, None if duration is None else float(duration), args_repr, uri,
        as_recipe(recipe), None, None, inline, compression, version,
        _read_only(extra),
    )  # fmt: skip


def remember_written(raw: bytes, info: ArtifactInfo, *, made: bool = False) -> None:
    """Note that ``raw`` is ``info.to_json()``, just written, so that reading it back in
    this process skips parsing it; only where ``info`` is what parsing ``raw`` gives (its
    fields of the exact types reading makes, and valid), else ``raw`` is parsed here.
    ``made``: ``info`` is a `new_record` of a save, whose ids, digest, size, version and
    inline payload the store made valid (only the types of the other fields are checked).

    Raises RecordError if a reader would refuse ``raw``.
    """
    if len(raw) > _ParsedRecords.MAX_BYTES:
        return
    duration, inline = info.duration, info.inline
    simple = not (
        info.inputs
        or info.extra
        or info.recipe is not None
        or type(info.size) is not int
        or type(info.serializer) is not str
        or type(info.python_type) is not str
        or (duration is not None and type(duration) is not float)
    )
    if simple:
        for value in (
            info.step_id, info.key, info.digest, info.mime_type, info.code_fingerprint,
            info.args_repr, info.uri, info.payload_hash, info.signature, inline,
            info.compression, info.version,
        ):  # fmt: skip
            if value is not None and type(value) is not str:
                simple = False
                break
    if simple:
        try:
            if not made:
                _step_id(info.step_id), _key(info.key), _digest(info.digest), _size(info.size)
                if info.version is not None:
                    _version_id(info.version)
                if inline is not None:
                    _inline(inline)
                    simple = len(inline) // 4 * 3 - inline[-2:].count("=") == info.size
            if duration is not None:
                _seconds(duration)
            if info.payload_hash is not None:
                _payload_hash(info.payload_hash)
            if info.compression is not None:
                _codec_field(info.compression)
        except (RecordError, ValueError, TypeError, OverflowError):
            simple = False
    if not simple:
        checked_record(raw)
        return
    keep_checked(raw, info)


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 3, 40, 40


def _short(value: Any) -> str:
    """A short repr of a caller's value for a message, however deep it is."""
    return _SHORT.repr(value)


def _check_given(store: ArtifactStore, step_id: str, given: Mapping[str, Any]) -> None:
    """Refuse, before anything is written, a value of the caller's that a reader would
    refuse in the record (a negative or NaN duration, a code fingerprint that is no
    text, an input naming an invalid step id, extra fields nested too deep), with the
    reader's own checks."""
    for name, value in given.items():
        if value is None or (name == "inputs" and not value):
            continue
        try:
            if name == "inputs":
                RECORD_FIELDS[name]([ref.to_dict() for ref in _refs(value)])
            elif name == "extra":
                for field, part in dict(value).items():
                    if isinstance(part, dict | list | tuple):
                        _check_depth(part, f"field {field!r}")
            elif name == "duration":
                _seconds(float(value))
            else:
                RECORD_FIELDS[name](value)
        except (RecordError, ValueError, TypeError, AttributeError, OverflowError) as exc:
            msg = (
                f"cannot save step {step_id!r} in store {store.location}: {name} {_short(value)} "
                f"is refused ({exc}); nothing was written"
            )
            raise InvalidOptionError(msg) from None


def _codec(store: ArtifactStore, name: object, ser: Any, step_id: str) -> str:
    """``name`` if it is a codec usable here for payloads of ``ser``; nothing is written."""
    where = f"step {step_id!r} in store {store.location}"
    if not getattr(ser, "compressible", True):
        msg = (
            f"saving {where}: the {ser.name!r} serializer writes a file other tools read "
            "as it is (store.open and store.url serve it); compress= applies to pickle "
            "and json payloads"
        )
        if ser.name == "parquet":
            msg += " (Parquet compresses its column chunks itself)"
        raise SerializationError(msg)
    try:
        return _compression.check_codec(name)
    except MissingDependencyError as exc:
        raise MissingDependencyError(f"saving {where}: {exc}", name=exc.name) from exc
    except ValueError as exc:
        msg = f"saving {where}: {exc}; nothing was saved"
        raise SerializationError(msg) from None


def _python_type(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"
