"""artifact_cache: a Jupyter-friendly artifact cache for data-science pipelines.

>>> import artifact_cache as ac
>>> store = ac.open_store("memory://doc-init")
>>> _ = store.save("extract", [1, 2, 3])
>>> store.get("extract")
[1, 2, 3]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import open_store
from .decorators import Explanation, StepCall, StepFunction
from .errors import (
    ArtifactNotFoundError,
    ArtifactStoreError,
    IntegrityError,
    InvalidOptionError,
    InvalidQueryError,
    InvalidStepIdError,
    MissingDependencyError,
    PayloadMissingError,
    ReadOnlyStoreError,
    RecordError,
    SerializationError,
    StoreFormatError,
    UnknownSchemeError,
)
from .fingerprint import FingerprintError, fingerprint, register_fingerprint
from .info import ArtifactInfo, ArtifactRef
from .lifecycle.retention import PrunedArtifact, PruneReport
from .memory import MemorizedFunc, Memory
from .pipeline import Pipeline, PipelineError, RunbookError, RunResult, Step, StepFailedError
from .serializers import Serializer, register_serializer, serializers
from .store import ArtifactList, ArtifactStore, GcReport, lineage_of

if TYPE_CHECKING:
    from .widget import ArtifactBrowser

__all__ = [
    "ArtifactBrowser",
    "ArtifactInfo",
    "ArtifactList",
    "ArtifactNotFoundError",
    "ArtifactRef",
    "ArtifactStore",
    "ArtifactStoreError",
    "Explanation",
    "FingerprintError",
    "GcReport",
    "IntegrityError",
    "InvalidOptionError",
    "InvalidQueryError",
    "InvalidStepIdError",
    "MemorizedFunc",
    "Memory",
    "MissingDependencyError",
    "PayloadMissingError",
    "Pipeline",
    "PipelineError",
    "PruneReport",
    "PrunedArtifact",
    "ReadOnlyStoreError",
    "RecordError",
    "RunResult",
    "RunbookError",
    "SerializationError",
    "Serializer",
    "Step",
    "StepCall",
    "StepFailedError",
    "StepFunction",
    "StoreFormatError",
    "UnknownSchemeError",
    "fingerprint",
    "lineage_of",
    "open_store",
    "register_fingerprint",
    "register_serializer",
    "serializers",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The widget pulls in ipywidgets: load it only when asked for.
    if name == "ArtifactBrowser":
        from .widget import ArtifactBrowser

        return ArtifactBrowser
    raise AttributeError(f"module 'artifact_cache' has no attribute {name!r}")
