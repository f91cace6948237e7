"""Population statistics in Spark, with the same bin rule as batch/drift.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from batch.fitting import QUANTILE_GRID, FeatureStats

# approxQuantile's rank error: 0.1% of the rows, well inside a 10% drift bin.
_RELATIVE_ERROR = 1e-3


def bin_index(col: Column, edges: Sequence[float]) -> Column:
    """The bin of a value: how many edges lie strictly below it (drift.bin_index in NumPy)."""
    idx: Column = F.lit(0)
    for e in edges:
        idx = idx + F.when(col > F.lit(float(e)), 1).otherwise(0)
    return idx


def bin_proportions(
    df: DataFrame, binned: Mapping[str, tuple[Column, Sequence[float]]]
) -> dict[str, np.ndarray]:
    """Share of rows in each bin, for several (column, edges) pairs in one pass."""
    aggs = [F.count(F.lit(1)).alias("_n")]
    for name, (col, edges) in binned.items():
        idx = bin_index(col, edges)
        aggs += [
            F.sum(F.when(idx == b, 1).otherwise(0)).alias(f"{name}__{b}")
            for b in range(len(edges) + 1)
        ]
    row = df.agg(*aggs).collect()[0]
    n = int(row["_n"])
    out: dict[str, np.ndarray] = {}
    for name, (_, edges) in binned.items():
        counts = np.array(
            [float(row[f"{name}__{b}"] or 0) for b in range(len(edges) + 1)], dtype="float64"
        )
        out[name] = counts / n if n else counts
    return out


def feature_stats(df: DataFrame, features: Sequence[str], n_bins: int) -> dict[str, FeatureStats]:
    """Quantile grid and drift bins of raw feature columns, without collecting the rows."""
    grid_probs = list(np.linspace(0.0, 1.0, QUANTILE_GRID))
    bin_probs = [i / n_bins for i in range(1, n_bins)]
    probs = grid_probs + bin_probs
    quantiles = df.approxQuantile(list(features), probs, _RELATIVE_ERROR)
    grids = {f: q[: len(grid_probs)] for f, q in zip(features, quantiles, strict=True)}
    edges = {
        f: [float(e) for e in np.unique(q[len(grid_probs) :])]
        for f, q in zip(features, quantiles, strict=True)
    }
    props = bin_proportions(df, {f: (F.col(f), edges[f]) for f in features})
    return {
        f: FeatureStats(
            tuple(float(v) for v in grids[f]),
            tuple(edges[f]),
            tuple(float(p) for p in props[f]),
        )
        for f in features
    }
