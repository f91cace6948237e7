"""Demographic mix of segments and its chi-square test of independence. Pure.

For each demographic (age band, gender, country, income band) the counts of customers per
(segment, value) form a contingency table. `chi_square` tests whether the value is
independent of the segment (scipy.stats.chi2_contingency, no continuity correction):

- customers whose value is unknown are left out of the test (they are shown in the mix);
  whether data is missing is a question about the data feed, not about the segment;
- values held by fewer than MIN_CELL customers overall are pooled into "other" first, so
  that a long tail of rare countries does not make expected counts too small for the test;
- rows and columns that are all zero are dropped; fewer than two of either means there is
  nothing to test (None).

A p-value below ALPHA is reported as a dependency; Cramér's V gives its strength.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from scipy.stats import chi2_contingency

UNKNOWN = "unknown"
OTHER = "other"
MIN_CELL = 5
ALPHA = 0.05
# (lowest age, label); a band ends where the next one starts.
AGE_BANDS: tuple[tuple[int, str], ...] = (
    (0, "<25"),
    (25, "25-34"),
    (35, "35-44"),
    (45, "45-54"),
    (55, "55-64"),
    (65, "65+"),
)


def age_band(birth_year: int | None, year: int) -> str:
    """The age band of someone born in `birth_year`, in `year`."""
    if birth_year is None:
        return UNKNOWN
    age = year - birth_year
    label = UNKNOWN
    for lowest, name in AGE_BANDS:
        if age >= lowest:
            label = name
    return label


def pool_rare(
    counts: Mapping[tuple[int, str], int], min_cell: int = MIN_CELL
) -> dict[tuple[int, str], int]:
    """Pools values with fewer than `min_cell` customers overall into OTHER."""
    totals: Counter[str] = Counter()
    for (_, value), n in counts.items():
        totals[value] += n
    out: Counter[tuple[int, str]] = Counter()
    for (segment, value), n in counts.items():
        keep = value == UNKNOWN or totals[value] >= min_cell
        out[(segment, value if keep else OTHER)] += n
    return dict(out)


def contingency(
    counts: Mapping[tuple[int, str], int], segments: Iterable[int]
) -> tuple[list[int], list[str], np.ndarray]:
    """Segment x value count table (unknown values excluded)."""
    seg = sorted(set(segments))
    values = sorted({v for (_, v) in counts if v != UNKNOWN})
    table = np.zeros((len(seg), len(values)), dtype="int64")
    for (s, v), n in counts.items():
        if v != UNKNOWN and s in seg:
            table[seg.index(s), values.index(v)] += n
    return seg, values, table


def chi_square(table: np.ndarray) -> dict[str, Any] | None:
    """Chi-square test of independence of a contingency table, or None if it is degenerate."""
    t = np.asarray(table, dtype="float64")
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0] if t.size else t
    if t.ndim != 2 or t.shape[0] < 2 or t.shape[1] < 2:
        return None
    stat, p, dof, expected = chi2_contingency(t, correction=False)
    n = float(t.sum())
    return {
        "chi2": float(stat),
        "p_value": float(p),
        "dof": int(dof),
        "n": int(n),
        "cramers_v": float(np.sqrt(stat / (n * (min(t.shape) - 1)))),
        "min_expected": float(np.min(expected)),
        "dependent": bool(p < ALPHA),
    }


def mix(counts: Mapping[tuple[int, str], int]) -> dict[int, dict[str, float]]:
    """Share of each value within each segment (unknown included)."""
    per_segment: dict[int, Counter[str]] = {}
    for (s, v), n in counts.items():
        per_segment.setdefault(s, Counter())[v] += n
    return {
        s: {v: n / sum(c.values()) for v, n in sorted(c.items())}
        for s, c in per_segment.items()
        if sum(c.values())
    }
