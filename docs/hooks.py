"""mkdocs hooks: fail the strict build on Sphinx roles left in docstrings.

mkdocstrings renders Markdown, where ``:meth:`x``` is not a link but the literal text
":meth:" before the code. A warning here makes ``mkdocs build --strict`` fail; write
``[`x`][]`` (a cross-reference, resolved from where the docstring is) or plain
backticks instead.
"""

from __future__ import annotations

import logging
import re
from typing import Any

log = logging.getLogger("mkdocs.plugins.sphinx_roles")

# ":meth:<code>", ":py:class:<code>", ... as rendered, or still raw (":func:`x`").
ROLE = re.compile(r"(?<![\w:]):(?:[a-z]+:)?[a-z]+:(?:<code>|`)")


def on_page_content(html: str, *, page: Any, **_: Any) -> str:
    for match in ROLE.finditer(html):
        context = re.sub(r"<[^>]+>", "", html[max(0, match.start() - 60) : match.end() + 40])
        log.warning(
            "Sphinx role %r in the page %s (from a docstring?): %s; use [`name`][] or backticks",
            match.group(0).split("<")[0].rstrip("`"),
            page.file.src_path,
            " ".join(context.split()),
        )
    return html
