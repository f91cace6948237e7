"""Classic RFM: quintile scores with ties, cells, rule segments, frequency band (hand values)."""

from __future__ import annotations

import pandas as pd
import pytest

from batch.rfm_rules import RULE_GRID, RULE_SEGMENTS, quintile_scores, rule_segment, scores

pytestmark = pytest.mark.unit

# customer: (recency_days, frequency, monetary)
ROWS = {
    "a": (0.5, 13, 900.0),
    "b": (3.0, 8, 400.0),
    "c": (3.0, 1, 20.0),
    "d": (10.0, 5, 400.0),
    "e": (10.0, 2, 60.0),
    "f": (10.0, 1, 15.0),
    "g": (40.0, 3, 120.0),
    "h": (90.0, 2, 60.0),
    "i": (200.0, 1, 5.0),
    "j": (365.0, 1, 60.0),
}
# Worked by hand, n = 10, score = (rank - 1) * 5 // 10 + 1, ties share the lowest rank:
#   R (oldest = rank 1): j 1, i 2, h 3, g 4, d/e/f 5, b/c 8, a 10 -> 1 1 2 2 3 3 3 4 4 5
#   F: c/f/i/j 1 -> 1; e/h 5 -> 3; g 7 -> 4; d 8 -> 4; b 9 -> 5; a 10 -> 5
#   M: i 1 -> 1; f 2 -> 1; c 3 -> 2; e/h/j 4 -> 2; g 7 -> 4; b/d 8 -> 4; a 10 -> 5
EXPECTED = {
    "a": (5, 5, 5, "555", "Champions", "High Frequency"),
    "b": (4, 5, 4, "454", "Loyal", "High Frequency"),
    "c": (4, 1, 2, "412", "Promising", "Low Frequency"),
    "d": (3, 4, 4, "344", "Loyal", "High Frequency"),  # 5 orders: not below 5
    "e": (3, 3, 2, "332", "Need Attention", "Low Frequency"),
    "f": (3, 1, 1, "311", "About to Sleep", "Low Frequency"),
    "g": (2, 4, 4, "244", "At Risk", "Low Frequency"),
    "h": (2, 3, 2, "232", "At Risk", "Low Frequency"),
    "i": (1, 1, 1, "111", "Lost", "Low Frequency"),
    "j": (1, 1, 2, "112", "Lost", "Low Frequency"),
}


def features() -> pd.DataFrame:
    return pd.DataFrame.from_dict(
        ROWS, orient="index", columns=["recency_days", "frequency", "monetary"]
    )


def test_scores_cells_segments_and_bands_match_the_hand_computed_table() -> None:
    got = scores(features(), threshold=5)
    as_tuples = {
        cid: (r.r_score, r.f_score, r.m_score, r.rfm_cell, r.rule_segment, r.frequency_band)
        for cid, r in got.iterrows()
    }
    assert as_tuples == EXPECTED


def test_equal_values_always_share_a_score_and_order_is_kept() -> None:
    values = pd.Series([7.0] * 6 + [1.0, 2.0, 3.0, 9.0])
    s = quintile_scores(values)
    assert s[:6].nunique() == 1
    # 1, 2, 3 take ranks 1-3; the six 7s rank 4 (score 2); 9 ranks 10 (score 5).
    assert s.tolist() == [2] * 6 + [1, 1, 2, 5]
    assert quintile_scores(pd.Series([5.0] * 4)).tolist() == [1, 1, 1, 1]


def test_rule_grid_names_every_cell_with_the_documented_segments() -> None:
    names = {rule_segment(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert names == set(RULE_SEGMENTS)
    assert len(RULE_GRID) == 5 and all(len(row) == 5 for row in RULE_GRID)
    assert rule_segment(5, 5) == "Champions"
    assert rule_segment(1, 5) == "Can't Lose Them"
    assert rule_segment(5, 1) == "New"
    assert rule_segment(1, 1) == "Lost"
    assert rule_segment(2, 1) == "Hibernating"
