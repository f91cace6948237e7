"""Drift measures, pure NumPy: binning, PSI, alert levels, centroid shift, migration.

PSI (population stability index) of an actual distribution `a` against an expected `e`,
both as proportions over the same bins:

    PSI = sum_i (a_i - e_i) * ln(a_i / e_i)

A bin that is empty on either side would make the log infinite, so each proportion is
floored at EPSILON = 1e-4 (one customer in ten thousand) before the sum; the other bins are
not renormalised. The floor caps what one empty bin can add (about 0.0009 for a bin that
held 1% and now holds nothing, 0.04 for one that held 10%) while still counting it.

Bins: feature values are binned by quantile edges of the training data; bin i holds values
`edges[i-1] < v <= edges[i]` (bin 0 everything up to edges[0], the last bin everything
above edges[-1]), so there are len(edges) + 1 bins. Spark computes the same index as the
number of edges strictly below the value (batch/drift_job.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

EPSILON = 1e-4
Level = Literal["ok", "warn", "alert"]


def quantile_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Inner edges of `n_bins` quantile bins of `values`; tied quantiles collapse into one."""
    if len(values) == 0:
        return np.empty(0)
    probs = np.arange(1, n_bins) / n_bins
    return np.unique(np.quantile(np.asarray(values, dtype="float64"), probs))


def bin_index(values: ArrayLike, edges: ArrayLike) -> np.ndarray:
    """The bin of each value: how many edges lie strictly below it."""
    return np.searchsorted(
        np.asarray(edges, dtype="float64"), np.asarray(values, dtype="float64"), side="left"
    )


def bin_proportions(values: ArrayLike, edges: ArrayLike) -> np.ndarray:
    """Share of `values` in each of the len(edges) + 1 bins (zeros for no values)."""
    n_edges = len(np.atleast_1d(np.asarray(edges)))
    counts = np.bincount(bin_index(values, edges), minlength=n_edges + 1).astype("float64")
    total = counts.sum()
    return counts / total if total > 0 else counts


def psi(expected: ArrayLike, actual: ArrayLike, epsilon: float = EPSILON) -> float:
    """Population stability index of `actual` against `expected` (proportions, same bins)."""
    e = np.maximum(np.asarray(expected, dtype="float64"), epsilon)
    a = np.maximum(np.asarray(actual, dtype="float64"), epsilon)
    if e.shape != a.shape:
        raise ValueError(f"expected {e.shape[0]} bins, got {a.shape[0]}")
    return float(np.sum((a - e) * np.log(a / e)))


def level(value: float, warn: float, alert: float) -> Level:
    """'alert' at or above `alert`, 'warn' at or above `warn`, else 'ok'."""
    if value >= alert:
        return "alert"
    if value >= warn:
        return "warn"
    return "ok"


def aligned_shares(
    reference: dict[int, float], current: dict[int, float]
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Segment shares of two snapshots over the union of their segment ids (missing = 0)."""
    ids = sorted(set(reference) | set(current))
    e = np.array([reference.get(i, 0.0) for i in ids])
    a = np.array([current.get(i, 0.0) for i in ids])
    return ids, e, a


@dataclass(frozen=True)
class Migration:
    """Customers per (segment at the earlier time, segment at the later time).

    None stands for "no segment yet" (a customer first scored between the two times).
    """

    labels: tuple[int | None, ...]
    counts: np.ndarray
    moved_share: float

    def as_dict(self) -> dict[str, object]:
        return {
            "labels": [None if x is None else int(x) for x in self.labels],
            "counts": self.counts.astype(int).tolist(),
            "moved_share": self.moved_share,
        }


def migration_matrix(pairs: Iterable[tuple[int | None, int | None, int]]) -> Migration:
    """Builds the migration matrix from (from segment, to segment, customers) triples.

    `moved_share` is the share of customers present at both times whose segment changed.
    """
    table = [(a, b, int(n)) for a, b, n in pairs]
    labels = tuple(
        sorted({x for a, b, _ in table for x in (a, b)}, key=lambda v: (v is not None, v or 0))
    )
    pos = {label: i for i, label in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)), dtype="int64")
    for a, b, n in table:
        counts[pos[a], pos[b]] += n
    both = [(a, b, n) for a, b, n in table if a is not None and b is not None]
    total = sum(n for _, _, n in both)
    moved = sum(n for a, b, n in both if a != b)
    return Migration(labels, counts, moved / total if total else 0.0)
