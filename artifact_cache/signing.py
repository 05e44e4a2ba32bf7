"""Trust for shared stores: signed records, and the secrets a store must never show.

A store opened with a signing key writes, in every record, a cryptographic hash of the
payload (the xxh3 digest that names payloads detects accidents, not forgery): BLAKE3 if
the ``blake3`` package is installed (the ``signing`` extra), else SHA-256, written as
``"blake3:<hex>"`` or ``"sha256:<hex>"``; and an HMAC-SHA256 over the record's content.
A keyed store checks both before it unpickles anything. `redact` takes the values
of secret storage options (and the signing key) out of any text the store shows.
May import errors and info (and ``blake3`` when it is installed).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from .errors import IntegrityError, install_hint
from .info import ArtifactInfo

Chunk = bytes | bytearray | memoryview

__all__ = [
    "ENV_SIGNING_KEY",
    "PayloadHashing",
    "Signer",
    "payload_digests",
    "payload_hash",
    "preferred_algorithm",
    "record_content",
    "redact",
    "redact_url",
    "secret_values",
    "signed_text",
    "signing_key_from",
]

ENV_SIGNING_KEY = "ARTIFACT_CACHE_SIGNING_KEY"
"""The environment variable holding the signing key when none is given to the store."""

_SLICE = 4 * 2**20
"""Both hashes walk a payload in slices of this size, so each slice is hashed while cached."""

_UNSIGNED_FIELDS = frozenset({"signature", "record_version"})
"""Fields outside the signed content: the signature itself and the schema's version."""

_SECRET_WORDS = ("secret", "password", "passwd", "token", "credential", "passphrase")
_NOT_SECRETS = frozenset({"anon", "google_default", "cache", "cloud", "browser", "true", "false"})
"""Values of secret-named options that only pick a login method (gcsfs's ``token="anon"``)."""
_SECRET_NAMES = frozenset(
    {"key", "signing_key", "account_key", "sas_token", "connection_string", "session_token"}
)


def signing_key_from(given: str | bytes | None) -> bytes | None:
    """The key a store signs with: ``given``, else ``$ARTIFACT_CACHE_SIGNING_KEY``.

    An empty string (given or in the environment) means no key.

    Examples:
        >>> signing_key_from("team-key")
        b'team-key'
        >>> signing_key_from("") is None
        True
    """
    if given is None:
        given = os.environ.get(ENV_SIGNING_KEY)
    if not given:
        return None
    return given.encode() if isinstance(given, str) else bytes(given)


def signed_text(signed: bool, verified: bool | None) -> str:
    """Whether an artifact is signed, in words, for ``artifact-cache info`` and the browser.

    ``signed``: the record carries a signature; ``verified``: the store's verdict
    (`ArtifactStore.verified`; None for a store without a signing key, which cannot tell).

    Examples:
        >>> signed_text(True, None)
        'yes (not checked: no signing key)'
        >>> signed_text(True, False)
        "yes, but not by this store's signing key (this store refuses to load it)"
    """
    if verified is None:
        return "yes (not checked: no signing key)" if signed else "no"
    if verified:
        return "yes (valid for this store's signing key)"
    if signed:
        return "yes, but not by this store's signing key (this store refuses to load it)"
    return "no (this store refuses to load it)"


def record_content(record: Mapping[str, Any]) -> bytes:
    """The canonical bytes a record's signature covers: every field but the signature.

    Empty fields (``null``, ``{}``, ``[]``) are left out, so that a field a later
    release adds, empty in older records, does not change what they signed.

    Examples:
        >>> record_content({"b": 1, "a": "x", "signature": "ff", "new": None, "tags": {}})
        b'{"a":"x","b":1}'
    """
    content = {
        k: v
        for k, v in record.items()
        if k not in _UNSIGNED_FIELDS and v is not None and v != {} and v != []
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return text.encode("ascii")


def _blake3() -> Any:
    try:
        import blake3
    except ImportError:
        return None
    return blake3.blake3


def _hasher(algorithm: str) -> Any:
    if algorithm == "blake3":
        blake3 = _blake3()
        if blake3 is None:
            raise LookupError(
                f"the record's payload hash is BLAKE3: {install_hint('signing', 'blake3')}"
            )
        return blake3()
    if algorithm == "sha256":
        return hashlib.sha256()
    raise LookupError(f"unknown payload hash algorithm {algorithm!r}")


def preferred_algorithm() -> str:
    """``"blake3"`` where the blake3 package is installed (several times faster), else SHA-256.

    Examples:
        >>> preferred_algorithm() in ("blake3", "sha256")
        True
    """
    return "blake3" if _blake3() is not None else "sha256"


def payload_digests(
    chunks: Iterable[bytes | bytearray | memoryview], fast: Any, algorithm: str | None = None
) -> tuple[str, str]:
    """(fast digest, cryptographic ``"<algorithm>:<hex>"`` hash) of a payload, in one pass.

    ``fast`` is the store's digest function over chunks (xxh3); it runs in a second
    thread while the cryptographic hash walks the same chunks (hashlib and blake3 release
    the GIL), so a signed save reads its payload from memory once and waits for the
    slower of the two.

    Examples:
        >>> import hashlib
        >>> fast, strong = payload_digests([b"ab", b"c"], lambda *c: "fast", "sha256")
        >>> fast, strong == "sha256:" + hashlib.sha256(b"abc").hexdigest()
        ('fast', True)
    """
    algorithm = algorithm or preferred_algorithm()
    chunks = list(chunks)
    strong = _hasher(algorithm)
    if sum(memoryview(c).nbytes for c in chunks) < _SLICE:
        for chunk in chunks:
            strong.update(chunk)
        return str(fast(*chunks)), f"{algorithm}:{strong.hexdigest()}"
    with ThreadPoolExecutor(1) as pool:
        fast_digest = pool.submit(fast, *chunks)
        for chunk in chunks:
            view = memoryview(chunk).cast("B")
            for start in range(0, view.nbytes, _SLICE):
                strong.update(view[start : start + _SLICE])
        return str(fast_digest.result()), f"{algorithm}:{strong.hexdigest()}"


def payload_hash(data: bytes | bytearray | memoryview, like: str) -> str:
    """The payload's hash by the algorithm that ``like`` (a recorded hash) names.

    Raises LookupError if that algorithm is unknown or its package is not installed.

    Examples:
        >>> payload_hash(b"abc", "sha256:00")[:15]
        'sha256:ba7816bf'
    """
    algorithm = like.partition(":")[0]
    strong = _hasher(algorithm)
    strong.update(data)
    return f"{algorithm}:{strong.hexdigest()}"


class Signer:
    """Signs and verifies records with one HMAC-SHA256 key; its repr never shows the key.

    Examples:
        >>> signer = Signer(b"team-key")
        >>> record = {"step_id": "extract", "payload_hash": "sha256:" + "00" * 32}
        >>> signer.verify(record, signer.sign(record))
        True
        >>> signer.verify({**record, "step_id": "other"}, signer.sign(record))
        False
        >>> signer
        Signer(<key hidden>)
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "Signer(<key hidden>)"

    def sign(self, record: Mapping[str, Any]) -> str:
        """The hex HMAC-SHA256 of the record's content (`record_content`)."""
        return hmac.new(self._key, record_content(record), hashlib.sha256).hexdigest()

    def verify(self, record: Mapping[str, Any], signature: object) -> bool:
        """True if ``signature`` is this key's signature of the record (constant time)."""
        if not isinstance(signature, str):
            return False
        return hmac.compare_digest(self.sign(record), signature)

    # The store's hooks: what a keyed store does on save and on load.
    def hashing(self, chunks: Sequence[Chunk], fast: Callable[..., str]) -> PayloadHashing:
        """A ``digest_of`` for a save that also computes the cryptographic payload hash."""
        return PayloadHashing(chunks, fast)

    def seal(self, info: ArtifactInfo, strong: str | None) -> ArtifactInfo:
        """The record as a keyed store writes it: with its payload hash, signed."""
        info = attrs.evolve(info, payload_hash=strong, signature=None)
        return attrs.evolve(info, signature=self.sign(info._form()))

    def verified(self, info: ArtifactInfo) -> bool:
        """True if the record carries a payload hash and this key's valid signature."""
        return info.payload_hash is not None and self.verify(info._form(), info.signature)

    def check_record(self, info: ArtifactInfo, where: str) -> None:
        """Raise IntegrityError, before any payload is read, unless this key signed ``info``."""
        if self.verified(info):
            return
        if not info.signed:
            problem = "is not signed"
        else:
            problem = (
                "was altered or signed with another key: its signature does not match "
                "this store's signing key"
            )
        msg = (
            f"the artifact of {where} {problem}; it was not loaded (this store has a "
            "signing key and loads only artifacts signed with it; save the step again)"
        )
        raise IntegrityError(msg)

    def payload_problem(self, data: Chunk, info: ArtifactInfo) -> str:
        """Why the payload fails its signed record's cryptographic hash, or ``""``."""
        expected = info.payload_hash or ""
        try:
            if payload_hash(data, expected) == expected:
                return ""
        except LookupError as exc:
            return f"cannot be checked against its signed record: {exc}"
        return f"does not match the {expected.partition(':')[0]} hash its signed record holds"


class PayloadHashing:
    """Called by a save as its ``digest_of``: the fast digest, keeping the strong hash."""

    def __init__(self, chunks: Sequence[Chunk], fast: Callable[..., str]) -> None:
        self._chunks = chunks
        self._fast = fast
        self.strong: str | None = None

    def __call__(self) -> str:
        fast, self.strong = payload_digests(self._chunks, self._fast)
        return fast


# --------------------------------------------------------------------------- secrets
def _is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_NAMES or any(word in lowered for word in _SECRET_WORDS)


def secret_values(options: Mapping[str, Any]) -> list[str]:
    """The values of credential-like storage options, nested ones included.

    ``key``, ``secret``, ``token``, ``password``, ``signing_key``, and any option whose
    name says secret, password, token or credential (``client_kwargs`` and
    ``config_kwargs`` are searched too); of an Azure ``connection_string``, also its
    ``AccountKey`` and ``SharedAccessSignature`` alone. Longest first, so that
    redaction replaces a secret before any part of it.

    Examples:
        >>> secret_values({"key": "AKIA1", "anon": False, "token": "anon",
        ...                "client_kwargs": {"aws_secret_access_key": "s3cr3t"}})
        ['s3cr3t', 'AKIA1']
        >>> secret_values({"connection_string": "AccountName=team;AccountKey=c2VjcmV0"})
        ['AccountName=team;AccountKey=c2VjcmV0', 'c2VjcmV0']
    """
    found: set[str] = set()

    def walk(value: Any, secret: bool) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, secret or _is_secret_name(str(k)))
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v, secret)
        elif secret and isinstance(value, str | bytes) and len(value) >= 3:
            text = value.decode(errors="replace") if isinstance(value, bytes) else value
            if text.lower() not in _NOT_SECRETS:
                found.add(text)
                # An Azure connection string: its key or SAS token may be quoted alone.
                found.update(m.group(1) for m in _CONNECTION_SECRET.finditer(text))

    walk(options, False)
    return sorted(found, key=lambda s: (-len(s), s))


_CONNECTION_SECRET = re.compile(r"(?:AccountKey|SharedAccessSignature)=([^;]{3,})", re.I)
"""The secret parts of an Azure Storage connection string."""

_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^/@:\s]*):[^/@\s]*@")


def redact_url(url: str) -> str:
    """The URL with any password in it replaced by ``***``.

    Examples:
        >>> redact_url("sftp://ci:hunter2@build-server/srv/cache")
        'sftp://ci:***@build-server/srv/cache'
    """
    return _USERINFO.sub(r"\g<head>:***@", url)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value, and any password inside a URL, replaced by ``***``.

    Examples:
        >>> redact("auth failed for key AKIA1", ["AKIA1"])
        'auth failed for key ***'
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return redact_url(text)
