"""Features and nearest-centroid scoring agree between Spark columns and pandas/NumPy on the
same rows, including customers with only returns and zero orders."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from segstream import testing
from segstream.model import segments
from segstream.model.features import ALL_FEATURES, pandas_features
from segstream.model.record import SegmentModel
from segstream.model.scoring import score_numpy

pytestmark = pytest.mark.spark

AS_OF = datetime(2025, 1, 1, tzinfo=UTC)


def rfm_rows() -> pd.DataFrame:
    frame = testing.rfm_frame(300, seed=5)
    # A customer with only a return: no purchases, negative net money, zero orders.
    frame.loc[0, ["first_purchase_at", "last_purchase_at"]] = pd.NaT
    frame.loc[0, ["orders", "gross_revenue", "monetary", "returns_amount"]] = [0, 0.0, -12.5, 12.5]
    # A purchase "after" the as-of (clock skew) clips to zero days.
    frame.loc[1, ["last_purchase_at", "last_event_at"]] = pd.Timestamp("2025-01-02")
    return frame


def model() -> SegmentModel:
    return SegmentModel(
        version=3,
        trained_at=AS_OF,
        as_of=AS_OF,
        rows=300,
        features=("recency_days", "frequency", "monetary", "tenure_days"),
        transforms=("log1p", "log1p", "log1p", "identity"),
        mean=(3.5, 1.2, 5.0, 200.0),
        std=(1.4, 0.8, 1.5, 150.0),
        centroids=((-1.0, 1.0, 1.0, 0.5), (1.0, -0.8, -0.9, -0.2), (0.2, 0.0, 0.1, 0.0)),
        segment_ids=(1, 4, 7),
        segment_names=("Champions", "Lost", "Need Attention"),
        engine="sklearn",
    )


def test_spark_and_pandas_features_and_segments_agree(spark) -> None:  # type: ignore[no-untyped-def]
    frame = rfm_rows()
    rfm = testing.rfm_dataframe(spark, frame)
    got = segments.assigned(rfm, model(), AS_OF).toPandas().set_index("customer_id")
    # The same rows through pandas, read back from Spark so money and times are as stored.
    stored = rfm.toPandas().set_index("customer_id")
    expected = pandas_features(stored, AS_OF)
    for name in ALL_FEATURES:
        np.testing.assert_allclose(
            got.loc[expected.index, name], expected[name], rtol=1e-12, atol=1e-9
        )
    assert got.loc["c0000000", "recency_days"] > 0 and got.loc["c0000000", "monetary"] == 0.0
    assert got.loc["c0000001", "recency_days"] == 0.0

    m = model()
    numpy = score_numpy(m, expected[list(m.features)].to_numpy())
    assert got.loc[expected.index, "segment_id"].tolist() == numpy.segment_id.tolist()
    assert got.loc[expected.index, "segment_name"].tolist() == numpy.segment_name.tolist()
    np.testing.assert_allclose(got.loc[expected.index, "distance"], numpy.distance, rtol=1e-9)
    assert set(numpy.segment_id.tolist()) == {1, 4, 7}  # every centroid wins some rows
