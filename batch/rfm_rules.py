"""Classic RFM: quintile scores, the RFM cell, named rule segments, frequency band. Pure
(pandas reference implementation; batch/rfm_scores.py does the same in Spark).

Quintile scores, deterministic with ties. Over n customers, each value gets the rank
`1 + (number of customers with a strictly worse value)` — ties share the lowest rank, as
SQL RANK() and pandas rank(method="min") do — and the score

    score = floor((rank - 1) * 5 / n) + 1        (1..5)

so the bottom fifth of ranks scores 1 and the top fifth 5, and customers with equal values
always get equal scores. A large tie (e.g. everyone with one order) stays together in the
score of its lowest rank; the next value up then jumps to the score its rank earns.
"Better" is: more recent (smaller recency_days) for R, more orders for F, more net money
for M. So the oldest customer has R rank 1 and the most recent ones R = 5.

Rule segments from the (R, F) scores (rows R = 5..1, columns F = 1..5):

    R\\F  1               2                   3                   4            5
    5    New             Potential Loyalist  Potential Loyalist  Champions    Champions
    4    Promising       Potential Loyalist  Potential Loyalist  Loyal        Loyal
    3    About to Sleep  About to Sleep      Need Attention      Loyal        Loyal
    2    Hibernating     Hibernating         At Risk             At Risk      Can't Lose Them
    1    Lost            Hibernating         At Risk             At Risk      Can't Lose Them

Frequency band: fewer than `threshold` orders (distinct invoices, default 5) is
"Low Frequency", otherwise "High Frequency".
"""

from __future__ import annotations

import pandas as pd

QUINTILES = 5
# RULE_GRID[r - 1][f - 1]
RULE_GRID: tuple[tuple[str, ...], ...] = (
    ("Lost", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),
    ("Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),
    ("About to Sleep", "About to Sleep", "Need Attention", "Loyal", "Loyal"),
    ("Promising", "Potential Loyalist", "Potential Loyalist", "Loyal", "Loyal"),
    ("New", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"),
)
RULE_SEGMENTS = (
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
)
LOW_FREQUENCY = "Low Frequency"
HIGH_FREQUENCY = "High Frequency"


def quintile(rank: int, n: int) -> int:
    """Score 1..5 of a 1-based rank among n."""
    return (rank - 1) * QUINTILES // n + 1


def quintile_scores(values: pd.Series, higher_is_better: bool = True) -> pd.Series:
    """Quintile score of each value (ties share the lowest rank)."""
    key = values if higher_is_better else -values
    rank = key.rank(method="min").astype("int64")
    n = len(values)
    return ((rank - 1) * QUINTILES // n + 1).astype("int64")


def rule_segment(r: int, f: int) -> str:
    """The named segment of an (R, F) score pair."""
    return RULE_GRID[r - 1][f - 1]


def frequency_band(orders: float, threshold: int) -> str:
    return LOW_FREQUENCY if orders < threshold else HIGH_FREQUENCY


def scores(features: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """The score columns of `customer_segments` for frames with `recency_days`,
    `frequency` (= orders) and `monetary`."""
    out = pd.DataFrame(index=features.index)
    out["r_score"] = quintile_scores(features["recency_days"], higher_is_better=False)
    out["f_score"] = quintile_scores(features["frequency"])
    out["m_score"] = quintile_scores(features["monetary"])
    out["rfm_cell"] = (
        out["r_score"].astype(str) + out["f_score"].astype(str) + out["m_score"].astype(str)
    )
    out["rule_segment"] = [
        rule_segment(r, f) for r, f in zip(out["r_score"], out["f_score"], strict=True)
    ]
    out["frequency_band"] = [frequency_band(o, threshold) for o in features["frequency"]]
    return out
