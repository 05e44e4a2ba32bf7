"""The notebook browser over an `ArtifactStore`: `ArtifactBrowser` and its table.

This package is the only part of artifact_cache that imports ipywidgets and anywidget
(the ``notebook`` extra, ``.[notebook]``); ``import artifact_cache`` loads it lazily.
``browser.py`` holds the widget and its behaviour, ``grid.py`` its clickable table (an
anywidget), ``html.py`` the pure rendering of records, previews and lineage trees (no
ipywidgets there). It may import every lower layer of the package.
"""

from .browser import ArtifactBrowser
from .grid import ArtifactGrid

__all__ = ["ArtifactBrowser", "ArtifactGrid"]
