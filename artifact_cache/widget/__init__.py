"""The notebook browser over an `ArtifactStore`: `ArtifactBrowser` and its table.

This package is the only part of artifact_cache that imports ipywidgets and anywidget
(the ``notebook`` extra, ``.[notebook]``); ``import artifact_cache`` loads it lazily.
``browser.py`` holds the widget and its behaviour. It may import every lower layer of
the package.
"""

from .browser import ArtifactBrowser, ArtifactGrid

__all__ = ["ArtifactBrowser", "ArtifactGrid"]
