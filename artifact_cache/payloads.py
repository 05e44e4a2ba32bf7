"""Serving a stored payload as it is: a stream of it (`open`), a link to it (`url`).

Neither deserialises; a stream is not digest-checked (a link cannot be). Both check the
record's signature first on a store with a signing key. `ArtifactStore.open` and
`ArtifactStore.url` delegate here; the store is passed in (imported for typing only).
May import errors, info, compression and storage.
"""

from __future__ import annotations

import base64
import io
from typing import IO, TYPE_CHECKING

from . import compression as _compression
from .digest import hash_bytes
from .errors import ArtifactStoreError, IntegrityError, MissingDependencyError, SerializationError
from .info import ArtifactInfo

if TYPE_CHECKING:
    from .store import ArtifactStore

__all__ = ["link", "publish_inline", "stream"]


def stream(store: ArtifactStore, info: ArtifactInfo) -> IO[bytes]:
    """A binary file object streaming the payload ``info`` names, decompressed: what
    `ArtifactStore.open` returns."""
    step_id = info.step_id
    store._check_signature(info)
    store._retention.used(info.step_id, info.key)
    codec = info.compression
    if codec is not None:
        try:
            _compression.check_codec(codec)
        except MissingDependencyError as exc:
            msg = f"opening {store._where(info)}: {exc}"
            raise MissingDependencyError(msg, name=exc.name) from exc
        except ValueError as exc:
            raise SerializationError(f"cannot open {store._where(info)}: {exc}") from None
    if info.inline is not None:
        stream: IO[bytes] = io.BytesIO(base64.b64decode(info.inline))
    else:
        with store._io("opening", step_id):
            try:
                stream = store._storage.open_object(info.digest)
            except FileNotFoundError:
                raise store._payload_missing(info) from None
    return stream if codec is None else _compression.reader(stream, codec)


def link(store: ArtifactStore, info: ArtifactInfo, expires: int) -> str:
    """A URL to the payload ``info`` names, valid ``expires`` seconds where presigned: what
    `ArtifactStore.url` returns."""
    step_id = info.step_id
    store._check_signature(info)
    # Only where URLs exist (local, object stores): memory:// has none to give.
    if info.inline is not None and (store._storage.is_local or store._storage.remote):
        with store._io("writing the payload file of", step_id):
            publish_inline(store, info)
    try:
        return store._storage.sign_object(info.digest, expires)
    except NotImplementedError:
        msg = (
            f"store {store.location} cannot give a URL for step {step_id!r}: its filesystem "
            "has no URLs; use store.open() to read the payload"
        )
        raise ArtifactStoreError(msg) from None
    except FileNotFoundError:
        raise store._payload_missing(info) from None
    except Exception as exc:
        store._fail("signing", step_id, exc)


def publish_inline(store: ArtifactStore, info: ArtifactInfo) -> None:
    """Give a payload stored inside its record a file of its own, for `url`.

    gc keeps it while a record names its digest (inline or not).
    """
    data = base64.b64decode(info.inline or "")
    if hash_bytes(data) != info.digest:
        where = store._where(info)
        raise IntegrityError(f"the payload of {where} does not match its digest")
    if not store._storage.has_object(info.digest, info.size):
        store._writable(f"give step {info.step_id!r} a URL (its payload is in its record)")
        store._storage.put_object(info.digest, [data], info.size)
