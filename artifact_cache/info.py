"""ArtifactInfo: the record kept for every artifact, and its JSON and HTML forms.

A record round-trips through JSON unchanged, unknown fields included (a newer version may
add fields; an older one keeps them on a rewrite). A record read from storage is checked
field by field (`RECORD_FIELDS`, with the value checks of `artifact_cache.record_values`)
before anything uses it: a digest is a digest, never a path. Imports ``attrs``, the
stdlib, `artifact_cache.record_values` and `artifact_cache.render`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from .errors import RecordError
from .fingerprint.recipe import KeyRecipe, as_recipe
from .readonly import EMPTY as _EMPTY
from .readonly import ReadOnlyDict, thawed
from .readonly import read_only as _read_only
from .record_values import (
    DIGEST_PATTERN,
    INLINE_MAX,
    MAX_DEPTH,
    VERSION_PATTERN,
    _check_depth,
    _compression,
    _created,
    _digest,
    _fail,
    _inline,
    _key,
    _optional,
    _optional_str,
    _payload_hash,
    _recipe,
    _record_version,
    _seconds,
    _size,
    _step_id,
    _str,
    _str_map,
    _utc,
    _version_id,
    derived_version_id,
    is_digest,
    is_version_id,
    new_version_id,
)
from .render import describe, human_size, info_html, infos_html

__all__ = [
    "COMPUTED_FIELDS",
    "DIGEST_PATTERN",
    "INLINE_MAX",
    "RECORD_FIELDS",
    "RECORD_VERSION",
    "STATUSES",
    "VERSION_PATTERN",
    "ArtifactInfo",
    "ArtifactRef",
    "derived_version_id",
    "human_size",
    "infos_html",
    "is_digest",
    "is_version_id",
    "new_version_id",
]

RECORD_VERSION = 1
"""Version of the record schema written by this release."""


STATUSES = ("active", "superseded", "tombstoned")
"""What a version can be: the one its step and key's record names (``active``), the one
``delete`` removed (``tombstoned``), or any other (``superseded``)."""


def _frozen_tags(value: Mapping[str, str] | None) -> Mapping[str, str]:
    if not value:
        return _EMPTY
    return ReadOnlyDict(sorted((str(k), str(v)) for k, v in value.items()))


_SORTED_JSON = json.JSONEncoder(sort_keys=True)
"""``json.dumps(..., sort_keys=True)``, without making an encoder per call."""


@attrs.frozen(kw_only=True)
class ArtifactRef:
    """A pointer to one artifact: what lineage (``ArtifactInfo.inputs``) is made of."""

    step_id: str
    key: str
    digest: str
    extra: Mapping[str, Any] = attrs.field(
        default=_EMPTY, converter=_read_only, repr=False, eq=False, hash=False
    )
    """Fields this version does not know, kept so that a rewrite does not drop them."""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-able form, including unknown fields read earlier (new dicts
        and lists throughout, to change at will)."""
        out: dict[str, Any] = thawed(self.extra)
        out.update(step_id=self.step_id, key=self.key, digest=self.digest)
        return out


def _ref(value: ArtifactRef | Mapping[str, Any]) -> ArtifactRef:
    if isinstance(value, ArtifactRef):
        return value
    known = {k: v for k, v in value.items() if k in _REF_KNOWN}
    extra = {k: v for k, v in value.items() if k not in _REF_KNOWN}
    return ArtifactRef(**known, extra=extra)


_REF_KNOWN = frozenset(("step_id", "key", "digest"))


def _refs(value: Iterable[ArtifactRef | Mapping[str, Any]]) -> tuple[ArtifactRef, ...]:
    return tuple(_ref(v) for v in value)


@attrs.frozen(kw_only=True, weakref_slot=False)  # (the layout `_Unfrozen` shares)
class ArtifactInfo:
    """What is known about one stored artifact, without reading its payload.

    Records are immutable, their ``tags`` and ``extra`` too: those are dicts that refuse
    changes (``dict(info.tags)`` is a copy to change), so that every reader can share one.

    Examples:
        >>> info = ArtifactInfo(step_id="extract", key="default", digest="ab" * 16, size=3,
        ...                     serializer="json", python_type="builtins.list")
        >>> ArtifactInfo.from_json(info.to_json()) == info
        True
    """

    step_id: str
    key: str
    digest: str
    size: int
    serializer: str
    python_type: str
    created: dt.datetime = attrs.field(
        factory=lambda: dt.datetime.now(dt.UTC), converter=_utc, eq=True
    )
    mime_type: str | None = None
    # Mappings take no part in the hash (they are unhashable), only in equality.
    tags: Mapping[str, str] = attrs.field(default=_EMPTY, converter=_frozen_tags, hash=False)
    inputs: tuple[ArtifactRef, ...] = attrs.field(default=(), converter=_refs)
    code_fingerprint: str | None = None
    duration: float | None = attrs.field(default=None, converter=attrs.converters.optional(float))
    args_repr: str | None = None
    uri: str | None = None
    recipe: KeyRecipe | None = attrs.field(default=None, converter=as_recipe, hash=False)
    """What the key of a memoised call was made of; None for artifacts saved directly."""
    payload_hash: str | None = None
    """``"blake3:<hex>"`` or ``"sha256:<hex>"`` of the payload, by a store with a signing key."""
    signature: str | None = None
    """HMAC-SHA256 of the record's other fields, written by a store with a signing key."""
    inline: str | None = attrs.field(default=None, repr=False, hash=False)
    """A small payload stored inside its record, as base64 text (None: in ``objects/``)."""
    compression: str | None = None
    """The codec the stored payload is compressed with (``"zstd"``, ...); None: as serialised.
    ``digest`` and ``size`` describe the stored, compressed bytes."""
    version: str | None = attrs.field(
        default=attrs.Factory(lambda self: self.derived_version, takes_self=True)
    )
    """The id of this save (`VERSION_PATTERN`), unique to it and ordered by creation.
    A record written before versions existed has none stored: its id is derived from its
    ``created`` time and digest (`derived_version_id`), the same in every reader."""
    status: str = attrs.field(default="active", eq=False, hash=False)
    """``"active"``, ``"superseded"`` or ``"tombstoned"`` (`STATUSES`): computed by the store
    when it reads the record (never stored in it); a record read as the artifact of its
    step and key is the active one."""
    extra: Mapping[str, Any] = attrs.field(
        default=_EMPTY, converter=_read_only, repr=False, hash=False
    )
    """Fields this version does not know, kept so that a rewrite does not drop them."""

    def inline_payload(self) -> bytes | None:
        """The payload stored inside the record, decoded; None if it is in ``objects/``."""
        return None if self.inline is None else base64.b64decode(self.inline)

    @property
    def derived_version(self) -> str:
        """The version id a record with no stored ``version`` has (`derived_version_id`)."""
        return derived_version_id(self.created, self.digest)

    @property
    def signed(self) -> bool:
        """True if the record carries a signature (whether it is valid is the store's check)."""
        return self.signature is not None

    @property
    def ref(self) -> ArtifactRef:
        """This artifact as an [`ArtifactRef`][]."""
        return ArtifactRef(step_id=self.step_id, key=self.key, digest=self.digest)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-able form, including unknown fields read earlier: new dicts
        and lists throughout, to change at will (the record's own cannot change).

        Examples:
            >>> info = ArtifactInfo(step_id="s", key="k", digest="ab" * 16, size=1,
            ...     serializer="pickle", python_type="builtins.int", extra={"n": [1]})
            >>> form = info.to_dict()
            >>> form["n"].append(2); form["n"], info.extra["n"]
            ([1, 2], [1])
        """
        return thawed(self._form())  # type: ignore[no-any-return]

    def _form(self) -> dict[str, Any]:
        """`to_dict`'s form, sharing the record's own read-only parts: what its text and
        its signature are made from (nothing copied on a keyed store's load path)."""
        out: dict[str, Any] = dict(self.extra)
        out.update(
            record_version=RECORD_VERSION,
            step_id=self.step_id,
            key=self.key,
            digest=self.digest,
            size=self.size,
            serializer=self.serializer,
            python_type=self.python_type,
            created=self.created.isoformat(),
            mime_type=self.mime_type,
            tags=dict(self.tags),
            inputs=[r.to_dict() for r in self.inputs],
            code_fingerprint=self.code_fingerprint,
            duration=self.duration,
            args_repr=self.args_repr,
            uri=self.uri,
        )
        if self.recipe is not None:
            out["recipe"] = self.recipe.to_dict()
        # Written only when set, so that an unsigned record reads as it always did.
        if self.payload_hash is not None:
            out["payload_hash"] = self.payload_hash
        if self.signature is not None:
            out["signature"] = self.signature
        if self.inline is not None:
            out["inline"] = self.inline
        if self.compression is not None:
            out["compression"] = self.compression
        # Not written when it is the id the record's other fields derive: a record written
        # before versions existed reads back as the same text (and its signature holds).
        # (A save's random tail is told apart from a derived one without deriving it.)
        version = self.version
        if version is not None and (
            str(version)[-8:] not in (str(self.digest)[:8], "00000000")
            or version != self.derived_version
        ):
            out["version"] = version
        return out

    def to_json(self) -> str:
        """Serialise to a JSON string (sorted keys, so equal records give equal text)."""
        return _SORTED_JSON.encode(self._form())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArtifactInfo:
        """Build from [`to_dict`][] output, checking every field; unknown ones go to ``extra``.

        Raises:
            RecordError: the data is not a record of the documented form (a field of the
                wrong type, a digest that is not a digest, a missing field, ...).

        Examples:
            >>> ArtifactInfo.from_dict({"step_id": "x", "digest": "../secret"})
            Traceback (most recent call last):
            ...
            artifact_cache.errors.RecordError: field 'digest': not a digest (32 lowercase ...
        """
        kwargs, extra = _checked(data)
        return cls(**kwargs, extra=extra)

    @classmethod
    def from_json(cls, text: str | bytes) -> ArtifactInfo:
        """Parse and check a record written by [`to_json`][].

        Raises:
            RecordError: the text is not JSON, is nested deeper than `MAX_DEPTH`,
                or is not a record of the documented form.
        """
        raw = text.encode() if isinstance(text, str) else bytes(text)
        return checked_record(raw)

    def describe(self) -> list[tuple[str, str]]:
        """The record as (label, text) pairs, for people; empty fields left out.

        Examples:
            >>> info = ArtifactInfo(step_id="x", key="default", digest="ab" * 16, size=1536,
            ...                     serializer="pickle", python_type="builtins.list")
            >>> dict(info.describe())["size"]
            '1.5 KiB (1536 bytes)'
        """
        return describe(self)

    def _repr_html_(self) -> str:
        return info_html(self)


COMPUTED_FIELDS = frozenset({"status"})
"""Fields of `ArtifactInfo` the store computes on reading; never part of a record's text."""

_KNOWN = frozenset(a.name for a in attrs.fields(ArtifactInfo)) - {"extra"} - COMPUTED_FIELDS
_REQUIRED = frozenset(
    a.name for a in attrs.fields(ArtifactInfo) if a.default is attrs.NOTHING and a.name != "extra"
)


# ------------------------------------------------------------------ record checks
# Each check takes a field's JSON value and returns what the constructor gets, or raises
# RecordError (ValueError/TypeError/OverflowError are reported the same way). The checks
# are in artifact_cache.record_values, but for ``inputs`` (it makes ArtifactRefs).


def _checked(data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The checked constructor arguments of a record, and its unknown fields."""
    if type(data) is not dict and not isinstance(data, Mapping):
        raise RecordError(f"a record is a JSON object, not {type(data).__name__}")
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    checks, nullable = RECORD_FIELDS, _NULLABLE
    for k, v in data.items():
        if v is None and k in nullable:  # (an optional field left empty: as its check says)
            kwargs[k] = None
            continue
        check = checks.get(k)
        if check is None:
            if not isinstance(k, str):
                raise RecordError(f"field names are strings, not {type(k).__name__}")
            if isinstance(v, dict | list):
                _check_depth(v, f"field {k!r}")
            extra[k] = v
            continue
        try:
            checked = check(v)
        except RecordError as exc:
            raise RecordError(f"field {k!r}: {exc}") from None
        except (ValueError, TypeError, OverflowError) as exc:
            raise RecordError(f"field {k!r}: {type(exc).__name__}: {exc}") from None
        kwargs[k] = checked
    for k in _CHECKED_ONLY:  # (checked, but no constructor argument)
        kwargs.pop(k, None)
    if not kwargs.keys() >= _REQUIRED:
        missing = sorted(_REQUIRED - kwargs.keys())
        raise RecordError(f"missing field(s): {', '.join(missing)}")
    inline = kwargs.get("inline")
    if inline is not None:
        decoded = len(inline) // 4 * 3 - inline[-2:].count("=")
        if decoded != kwargs["size"]:
            msg = f"field 'inline': holds {decoded} bytes, the record's size is {kwargs['size']}"
            raise RecordError(msg)
    return kwargs, extra


def checked_record(raw: bytes) -> ArtifactInfo:
    """The record in ``raw``, parsed and checked (what `ArtifactInfo.from_json` returns):
    one object for every reader of the same bytes in this process, as records cannot
    change.

    Raises:
        RecordError: as `ArtifactInfo.from_json`.
    """
    found = _parsed.get(raw)
    if found is not None:
        return found
    try:
        data = json.loads(raw)
    except RecursionError:
        raise RecordError(f"nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
        raise RecordError(f"not JSON: {exc}") from None
    kwargs, extra = _checked(data)
    if "created" not in kwargs:
        return ArtifactInfo(**kwargs, extra=extra)  # "now", each time: not kept
    get = kwargs.get
    tags = get("tags")
    inputs = get("inputs")
    info = _assemble(
        kwargs["step_id"], kwargs["key"], kwargs["digest"], kwargs["size"],
        kwargs["serializer"], kwargs["python_type"], kwargs["created"], get("mime_type"),
        _frozen_tags(tags), tuple(inputs) if inputs else (),
        get("code_fingerprint"), get("duration"), get("args_repr"), get("uri"),
        get("recipe"), get("payload_hash"), get("signature"), get("inline"),
        get("compression"), get("version"), _read_only(extra),
    )  # fmt: skip
    _parsed.put(raw, info)
    return info


class _ParsedRecords:
    """Checked records by their exact bytes, so that a cache hit re-reading the same
    record file (every memoised hit does) skips parsing and checking it again. Reads
    stay fresh: the bytes are read each time; only identical bytes share the work.
    Bounded in count and in the bytes it keeps; records over 32 KiB are not kept.
    """

    MAX_ITEMS = 65536
    MAX_BYTES = 32 * 2**10
    MAX_TOTAL = 32 * 2**20

    def __init__(self) -> None:
        # (An OrderedDict: a dict whose oldest entries are deleted one by one is scanned
        # past them on every next(iter()), about 16 us a put once it is full.)
        self._items: OrderedDict[bytes, ArtifactInfo] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()
        self.get: Callable[[bytes], ArtifactInfo | None] = self._items.get
        """The checked record of these bytes, if kept (the dict's own ``get``: no call
        of ours on every record read)."""

    def put(self, raw: bytes, value: ArtifactInfo) -> None:
        if len(raw) > self.MAX_BYTES:
            return
        items = self._items
        with self._lock:
            while items and (len(items) >= self.MAX_ITEMS or self._total > self.MAX_TOTAL):
                oldest, _ = items.popitem(last=False)
                self._total -= len(oldest)
            if raw not in items:
                self._total += len(raw)
            items[raw] = value


_parsed = _ParsedRecords()


def keep_checked(raw: bytes, info: ArtifactInfo) -> None:
    """Note that parsing and checking ``raw`` gives ``info``, so that `checked_record` of
    the same bytes in this process skips both."""
    _parsed.put(raw, info)


def _inputs(value: Any) -> tuple[ArtifactRef, ...]:
    if not isinstance(value, list):
        raise _fail(f"expected a list, got {type(value).__name__}")
    refs = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _fail(f"item {i} is a {type(item).__name__}, not an object")
        missing = sorted(_REF_KNOWN - item.keys())
        if missing:
            raise _fail(f"item {i} lacks {', '.join(missing)}")
        try:
            _step_id(item["step_id"]), _key(item["key"]), _digest(item["digest"])
        except (RecordError, ValueError) as exc:
            raise _fail(f"item {i}: {exc}") from None
        for k, v in item.items():
            if isinstance(v, dict | list):
                _check_depth(v, f"item {i} field {k!r}")
        refs.append(_ref(item))
    return tuple(refs)


RECORD_FIELDS: dict[str, Callable[[Any], Any]] = {
    "record_version": _record_version,
    "step_id": _step_id,
    "key": _key,
    "digest": _digest,
    "size": _size,
    "serializer": _str,
    "python_type": _str,
    "created": _created,
    "mime_type": _optional_str,
    "tags": lambda v: _str_map(v, "tag"),
    "inputs": _inputs,
    "code_fingerprint": _optional_str,
    "duration": _optional(_seconds),
    "args_repr": _optional_str,
    "uri": _optional_str,
    "recipe": _optional(_recipe),
    "payload_hash": _optional(_payload_hash),
    "signature": _optional_str,
    "inline": _optional(_inline),
    "compression": _optional(_compression),
    "version": _version_id,
}
"""How each known field of a record is checked when read (one line per field).

A field of `ArtifactInfo` needs an entry here; fields not listed are kept
unchecked in ``extra`` (unknown to this version).
"""


def _takes_none(check: Callable[[Any], Any]) -> bool:
    try:
        return check(None) is None
    except (RecordError, ValueError, TypeError):
        return False


_CHECKED_ONLY = frozenset(RECORD_FIELDS) - _KNOWN
"""Fields of a record that are checked but are no field of `ArtifactInfo` (its version)."""
_NULLABLE = frozenset(k for k, check in RECORD_FIELDS.items() if k in _KNOWN and _takes_none(check))
"""Fields of `ArtifactInfo` whose check turns a JSON null into None (the optional ones):
`_checked` takes a null of theirs as it is, without calling the check."""


# ------------------------------------------------------------------ checked values
_FIELDS = (
    "step_id", "key", "digest", "size", "serializer", "python_type", "created", "mime_type",
    "tags", "inputs", "code_fingerprint", "duration", "args_repr", "uri", "recipe",
    "payload_hash", "signature", "inline", "compression", "version", "status", "extra",
)  # fmt: skip
assert tuple(a.name for a in attrs.fields(ArtifactInfo)) == _FIELDS, "field order changed"


class _Unfrozen:
    """ArtifactInfo's slots, without its frozen ``__setattr__`` nor converters: what
    `_assemble` fills before it turns the object into an ArtifactInfo. Both classes lay
    their slots out alike (the same names, no other slot), which is what CPython checks
    before it lets ``__class__`` be assigned; so a record is built with plain attribute
    stores instead of 22 calls."""

    __slots__ = _FIELDS


try:
    object.__new__(_Unfrozen).__class__ = ArtifactInfo  # type: ignore[assignment]
    _SWAP = True
except TypeError:  # (the layouts differ, as another attrs might make them: field by field)
    _SWAP = False


def _frozen(info: _Unfrozen) -> ArtifactInfo:
    """An ArtifactInfo copied field by field from ``info`` (where the layouts differ)."""
    out: ArtifactInfo = object.__new__(ArtifactInfo)
    for name in _FIELDS:
        object.__setattr__(out, name, getattr(info, name))
    return out


def _assemble(
    step_id: str, key: str, digest: str, size: int, serializer: str, python_type: str,
    created: dt.datetime, mime_type: str | None, tags: Mapping[str, str],
    inputs: tuple[ArtifactRef, ...], code_fingerprint: str | None, duration: float | None,
    args_repr: str | None, uri: str | None, recipe: KeyRecipe | None,
    payload_hash: str | None, signature: str | None, inline: str | None,
    compression: str | None, version: str | None, extra: Mapping[str, Any], *,
    status: str = "active",
) -> ArtifactInfo:  # fmt: skip
    """An ArtifactInfo of values already checked and in their final form (UTC time,
    sorted text tags, a tuple of refs, a recipe, read-only mappings): what the
    constructor would make of them, without running its converters again."""
    if version is None:  # (what the constructor's default gives a record with none)
        version = derived_version_id(created, digest)
    out: list[ArtifactInfo] = []
    values = (
        key, digest, size, serializer, python_type, created, mime_type, tags, inputs,
        code_fingerprint, duration, args_repr, uri, recipe, payload_hash, signature,
        inline, compression, version, extra,
    )  # fmt: skip
    _build(step_id, (values,), out.append, status)
    return out[0]


def _build(
    step_id: str,
    rows: Iterable[tuple[Any, ...]],
    append: Callable[[ArtifactInfo], object],
    status: str = "active",
) -> None:
    """``append`` an ArtifactInfo of ``step_id`` for each row of checked values in their
    final form, in `_assemble`'s order after the step id (a version in each): each
    object's slots set in place, then its class made ArtifactInfo (`_SWAP`; else copied
    field by field). What every record read from a store or an index is built by; a
    listing builds thousands, so there is no call per record."""
    new, twin, final, swap = object.__new__, _Unfrozen, ArtifactInfo, _SWAP
    for (
        key, digest, size, serializer, python_type, created, mime_type, tags, inputs,
        code_fingerprint, duration, args_repr, uri, recipe, payload_hash, signature,
        inline, compression, version, extra,
    ) in rows:  # fmt: skip
        info: Any = new(twin)
        info.step_id = step_id
        info.key = key
        info.digest = digest
        info.size = size
        info.serializer = serializer
        info.python_type = python_type
        info.created = created
        info.mime_type = mime_type
        info.tags = tags
        info.inputs = inputs
        info.code_fingerprint = code_fingerprint
        info.duration = duration
        info.args_repr = args_repr
        info.uri = uri
        info.recipe = recipe
        info.payload_hash = payload_hash
        info.signature = signature
        info.inline = inline
        info.compression = compression
        info.version = version
        info.status = status
        info.extra = extra
        if swap:
            info.__class__ = final
            append(info)
        else:
            append(_frozen(info))


# `storage.rows.pack_checked`'s rows are `_assemble`'s arguments after the step id.
assert _assemble.__code__.co_varnames[:21] == (*_FIELDS[:20], "extra")
