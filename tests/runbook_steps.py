"""Step functions for the pipeline and runbook tests (``run: runbook_steps:extract``).

Importable as a top-level module because pytest puts ``tests/`` on ``sys.path``; the CLI
tests put it on ``PYTHONPATH`` for the subprocess. ``CALLS`` counts executions so that a
test can tell a computed step from a cached one; ``FAIL`` names steps that should raise.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["CALLS", "FAIL", "NOT_CALLABLE", "classify", "extract", "join", "report", "summarise"]

CALLS: Counter[str] = Counter()
FAIL: set[str] = set()


def extract(n: int = 6, offset: int = 0) -> list[int]:
    """Rows 0..n-1 shifted by ``offset``."""
    CALLS["extract"] += 1
    return [i + offset for i in range(n)]


def classify(rows: list[int], threshold: int = 3) -> list[str]:
    """Label each row 'high' or 'low'."""
    CALLS["classify"] += 1
    if "classify" in FAIL:
        raise RuntimeError("classifier exploded")
    return ["high" if r >= threshold else "low" for r in rows]


def summarise(labels: list[str]) -> dict[str, int]:
    """Count the labels."""
    CALLS["summarise"] += 1
    return {label: labels.count(label) for label in sorted(set(labels))}


def join(rows: list[int], labels: list[str]) -> list[tuple[int, str]]:
    """Pair rows with their labels (a step with two inputs)."""
    CALLS["join"] += 1
    return list(zip(rows, labels, strict=True))


def report(summary: dict[str, Any]) -> str:
    """A line of text from a summary (used unsaved)."""
    CALLS["report"] += 1
    return ", ".join(f"{k}={v}" for k, v in summary.items())


NOT_CALLABLE = 42
