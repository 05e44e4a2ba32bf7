"""The storage layer: a store's files on any fsspec filesystem (see `base`)."""

from .base import FORMAT_VERSION, SizeMismatch, Storage
from .entries import FileEntry
from .index import IndexedRecord
from .layout import TMP_PREFIX, Layout, RecordName, VersionName
from .objectstore import S3_DEFAULTS, S3_RETRIES

__all__ = [
    "FORMAT_VERSION",
    "S3_DEFAULTS",
    "S3_RETRIES",
    "TMP_PREFIX",
    "FileEntry",
    "IndexedRecord",
    "Layout",
    "RecordName",
    "SizeMismatch",
    "Storage",
    "VersionName",
]
