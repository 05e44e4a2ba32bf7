"""The store's layout: where records, payloads and the marker live (pure; no fsspec).

Documented in docs/format.md::

    <root>/STORE.json                   format marker and version
    <root>/objects/ab/abcdef...         payloads, named by their digest
    <root>/refs/<step_id>/@<key>.json   one record per artifact: its active version
    <root>/refs/.manifest-1.json.gz     remote stores: a manifest of the records (a cache)
    <root>/versions/<step_id>/@<key>@<version>.json             every save's record
    <root>/versions/<step_id>/@<key>@<version>.tombstone.json   ``delete`` of a version
    <root>/index.sqlite                 local stores: an index of the records (a cache)
    <root>/gc.lock                      local stores: gc and saves lock it (see gclock)
    <root>/access/<process>.json        when artifacts were last read (retention's LRU)

Every path is the root's prefix plus a relative name. At the root of a filesystem whose
paths have no leading "/" (zip://, a bucket-less root) the prefix is empty.
"""

from __future__ import annotations

import attrs

from ..errors import IntegrityError, InvalidStepIdError
from ..info import is_digest, is_version_id

__all__ = [
    "MARKER",
    "RECORD_SUFFIX",
    "TMP_PREFIX",
    "TOMBSTONE_SUFFIX",
    "Layout",
    "RecordName",
    "VersionName",
]

TMP_PREFIX = ".tmp-"
"""Prefix of the temporary names local writes go through before their rename."""

RECORD_SUFFIX = ".json"
TOMBSTONE_SUFFIX = ".tombstone.json"
MARKER = "STORE.json"


@attrs.frozen
class RecordName:
    """Which record: a step id and a key (what a record's path says)."""

    step_id: str
    key: str


@attrs.frozen
class VersionName:
    """Which file of a version folder: a version's record, or its tombstone."""

    step_id: str
    key: str
    version: str
    tombstone: bool = False

    @property
    def record(self) -> RecordName:
        """The step id and key whose version this is."""
        return RecordName(self.step_id, self.key)


@attrs.frozen
class Layout:
    """Paths under one root prefix (``"/data/store/"``, ``"bucket/store/"`` or ``""``)."""

    prefix: str
    url: str = ""

    def path(self, relative: str) -> str:
        """The full path of a name relative to the store's root (e.g. ``"objects"``)."""
        return f"{self.prefix}{relative}"

    @property
    def marker(self) -> str:
        return f"{self.prefix}{MARKER}"

    @property
    def refs(self) -> str:
        return f"{self.prefix}refs"

    @property
    def access(self) -> str:
        """The folder of access files (one per process that read artifacts)."""
        return f"{self.prefix}access"

    def access_path(self, name: str) -> str:
        """The path of the access file ``name`` (a file name, never a path)."""
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"{name!r} is not an access file name (store {self.url})")
        return f"{self.prefix}access/{name}"

    def object_path(self, digest: str) -> str:
        """The path of a payload; IntegrityError unless ``digest`` is a digest (never a path)."""
        if not is_digest(digest):
            raise IntegrityError(f"{digest!r:.80} is not a payload digest (store {self.url})")
        return f"{self.prefix}objects/{digest[:2]}/{digest}"

    def record_dir(self, step_id: str) -> str:
        return f"{self.prefix}refs/{step_id}"

    def record_path(self, step_id: str, key: str) -> str:
        return f"{self.prefix}refs/{step_id}/@{key}{RECORD_SUFFIX}"

    @property
    def versions(self) -> str:
        return f"{self.prefix}versions"

    def versions_dir(self, step_id: str) -> str:
        """The folder of a step's versions, of all its keys (one folder per step, as
        ``refs/``: a save with a new key makes no folder)."""
        return f"{self.prefix}versions/{step_id}"

    def version_path(self, name: VersionName) -> str:
        """The path of a version's record (or tombstone); InvalidStepIdError unless its
        version is a version id (never a path)."""
        if not is_version_id(name.version):
            msg = (
                f"{name.version!r:.80} is not a version id (like 20261202T031500123456Z-"
                f"1a2b3c4d): step {name.step_id!r} in store {self.url}"
            )
            raise InvalidStepIdError(msg)
        suffix = TOMBSTONE_SUFFIX if name.tombstone else RECORD_SUFFIX
        return f"{self.versions_dir(name.step_id)}/@{name.key}@{name.version}{suffix}"

    def versions_folder(self, folder: str) -> str:
        """``versions/`` or the folder of step ids under it that start with ``folder/``."""
        return self.versions if not folder else f"{self.versions}/{folder.strip('/')}"

    def parse_version_path(self, path: str) -> VersionName | None:
        """Split ``.../versions/<step_id>/@<key>@<version>[.tombstone].json``, else None."""
        return parse_version_path(path, self.versions)

    def refs_folder(self, folder: str) -> str:
        """``refs/`` or the folder of step ids under it that start with ``folder/``."""
        return self.refs if not folder else f"{self.refs}/{folder.strip('/')}"

    def parse_record_path(self, path: str) -> RecordName | None:
        """Split ``.../refs/<step_id>/@<key>.json`` into its names, else None."""
        return parse_record_path(path, self.refs)


def parse_record_path(path: str, refs_root: str) -> RecordName | None:
    """Split ``<refs_root>/<step_id>/@<key>.json`` into its names, else None.

    Examples:
        >>> parse_record_path("s/refs/a/b/@k.json", "s/refs")
        RecordName(step_id='a/b', key='k')
        >>> parse_record_path("s/refs/a/.tmp-1", "s/refs") is None
        True
    """
    rel = path[len(refs_root) + 1 :] if path.startswith(refs_root + "/") else None
    if not rel or not rel.endswith(RECORD_SUFFIX):
        return None
    step_id, _, name = rel.rpartition("/")
    if not step_id or not name.startswith("@"):
        return None
    return RecordName(step_id, name[1 : -len(RECORD_SUFFIX)])


def parse_version_path(path: str, versions_root: str) -> VersionName | None:
    """Split ``<versions_root>/<step_id>/@<key>@<version>.json`` into its names, else None.

    Names that are not a version id (temporaries, anything else) give None.

    Examples:
        >>> parse_version_path("s/versions/a/@k@20260101T000000000000Z-0123abcd.json",
        ...                    "s/versions").key
        'k'
        >>> parse_version_path("s/versions/a/.tmp-1", "s/versions") is None
        True
    """
    rel = path[len(versions_root) + 1 :] if path.startswith(versions_root + "/") else None
    if not rel or not rel.endswith(RECORD_SUFFIX):
        return None
    step_id, _, file = rel.rpartition("/")
    if not step_id or not file.startswith("@"):
        return None
    tombstone = file.endswith(TOMBSTONE_SUFFIX)
    key, _, version = file[1 : -len(TOMBSTONE_SUFFIX if tombstone else RECORD_SUFFIX)].rpartition(
        "@"
    )
    if not key or not is_version_id(version):
        return None
    return VersionName(step_id, key, version, tombstone)
