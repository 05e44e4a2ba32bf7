"""The pipeline behind ``artifact-cache demo``: synthetic customers -> clean -> features -> model.

Plain Python on purpose: the runtime dependencies do not include numpy, so the demo
uses ``random``, ``math`` and ``array``. Columns are ``array('d')``, which pickle and
fingerprint as one buffer each, so a cached re-run costs milliseconds. Each step takes
a noticeable fraction of a second at the default 200,000 rows.
"""

from __future__ import annotations

import math
import random
from array import array
from typing import Any, TypeAlias

from .pipeline import Pipeline, Step
from .store import ArtifactStore

__all__ = ["clean", "demo_pipeline", "featurise", "generate", "train"]

Table: TypeAlias = "dict[str, array[float]]"
NUMERIC = ("age", "income", "visits", "tenure")


def generate(rows: int, seed: int = 7) -> Table:
    """Synthetic customers with a churn label, a few missing values and outliers.

    Examples:
        >>> data = generate(100)
        >>> sorted(data), len(data["age"])
        (['age', 'churn', 'income', 'segment', 'tenure', 'visits'], 100)
    """
    rng = random.Random(seed)
    cols: Table = {name: array("d") for name in (*NUMERIC, "segment", "churn")}
    gauss, rand = rng.gauss, rng.random
    for _ in range(rows):
        age = gauss(42.0, 12.0)
        income = math.exp(gauss(10.5, 0.5))
        visits = max(0.0, gauss(6.0, 3.0))
        tenure = rand() * 10.0
        segment = float(rng.randrange(3))
        z = -0.04 * (age - 42) - 0.3 * (visits - 6) - 0.25 * (tenure - 5) + 0.6 * (segment == 2)
        churn = 1.0 if rand() < 1.0 / (1.0 + math.exp(-z)) else 0.0
        # Real extracts have holes and typos: the clean step has work to do.
        if rand() < 0.02:
            age = math.nan
        if rand() < 0.005:
            income *= 100.0
        cols["age"].append(age)
        cols["income"].append(income)
        cols["visits"].append(visits)
        cols["tenure"].append(tenure)
        cols["segment"].append(segment)
        cols["churn"].append(churn)
    return cols


def clean(data: Table) -> Table:
    """Drop rows with missing values and clip each numeric column to its 1-99 percentiles."""
    keep = [i for i, age in enumerate(data["age"]) if not math.isnan(age)]
    out: Table = {}
    for name, col in data.items():
        values = [col[i] for i in keep]
        if name in NUMERIC:
            ranked = sorted(values)
            low, high = ranked[len(ranked) // 100], ranked[-len(ranked) // 100 - 1]
            values = [low if v < low else high if v > high else v for v in values]
        out[name] = array("d", values)
    return out


def featurise(data: Table) -> Table:
    """Standardised numeric columns, log income, one-hot segments and an interaction."""
    out: Table = {}
    for name in NUMERIC:
        col = [math.log(v) for v in data[name]] if name == "income" else list(data[name])
        mean = math.fsum(col) / len(col)
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in col) / len(col)) or 1.0
        out[name] = array("d", [(v - mean) / std for v in col])
    for level in (1.0, 2.0):
        out[f"segment_{level:.0f}"] = array("d", [float(s == level) for s in data["segment"]])
    out["visits_x_tenure"] = array(
        "d", [a * b for a, b in zip(out["visits"], out["tenure"], strict=True)]
    )
    out["churn"] = array("d", data["churn"])
    return out


def train(data: Table, epochs: int = 2, learning_rate: float = 0.05) -> dict[str, Any]:
    """Logistic regression by stochastic gradient descent; accuracy on a 20% hold-out."""
    names = [n for n in data if n != "churn"]
    rows = list(zip(*(data[n] for n in names), strict=True))
    labels = data["churn"]
    split = len(rows) * 4 // 5
    weights = [0.0] * len(names)
    bias = 0.0
    exp = math.exp
    for epoch in range(epochs):
        rate = learning_rate / (1 + epoch)
        for x, y in zip(rows[:split], labels[:split], strict=True):
            z = bias + sum(w * v for w, v in zip(weights, x, strict=True))
            p = 1.0 / (1.0 + exp(-z)) if z > -30 else 0.0
            g = rate * (y - p)
            bias += g
            weights = [w + g * v for w, v in zip(weights, x, strict=True)]
    hits = 0
    for x, y in zip(rows[split:], labels[split:], strict=True):
        z = bias + sum(w * v for w, v in zip(weights, x, strict=True))
        hits += (z > 0) == (y == 1.0)
    accuracy = hits / max(1, len(rows) - split)
    return {"features": names, "weights": weights, "bias": bias, "accuracy": accuracy}


def demo_pipeline(store: ArtifactStore, *, rows: int = 200_000) -> Pipeline:
    """The demo's four steps on ``store``, under step ids ``demo/...``.

    Examples:
        >>> from artifact_cache import open_store
        >>> pipe = demo_pipeline(open_store("memory://doc-demo"), rows=2_000)
        >>> result = pipe.run()
        >>> 0.5 < result.load("demo/train")["accuracy"] <= 1.0
        True
    """
    return Pipeline(
        store,
        [
            Step("demo/generate", generate, params={"rows": rows, "seed": 7}),
            Step("demo/clean", clean, input_from="demo/generate"),
            Step("demo/featurise", featurise, input_from="demo/clean"),
            Step("demo/train", train, input_from="demo/featurise", params={"epochs": 2}),
        ],
        name="demo",
    )
