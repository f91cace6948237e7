"""Classic RFM scores in Spark equal the hand-computed table (and so the pandas reference)."""

from __future__ import annotations

import pytest

from batch import rfm_scores
from tests.unit.test_rfm_rules import EXPECTED, ROWS

pytestmark = pytest.mark.spark


def test_spark_scores_match_the_hand_computed_table_with_ties(spark) -> None:  # type: ignore[no-untyped-def]
    featured = spark.createDataFrame(
        [(cid, r, float(f), m) for cid, (r, f, m) in ROWS.items()],
        "customer_id string, recency_days double, frequency double, monetary double",
    )
    got = rfm_scores.scores(featured, n=len(ROWS), threshold=5).collect()
    assert {r.customer_id: tuple(r)[1:] for r in got} == EXPECTED
