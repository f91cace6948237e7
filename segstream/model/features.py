"""Segmentation features from `customer_rfm` at an as-of time: one definition, two engines.

Recency is not stored anywhere; it is `as_of - last purchase` in days, computed here. A
customer who has only returns uses the last event instead, so every customer has features.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F

from segstream.model.record import Transform

RECENCY = "recency_days"
FREQUENCY = "frequency"
MONETARY = "monetary"
AVG_ORDER_VALUE = "avg_order_value"
TENURE = "tenure_days"
ALL_FEATURES = (RECENCY, FREQUENCY, MONETARY, AVG_ORDER_VALUE, TENURE)
DEFAULT_FEATURES = (RECENCY, FREQUENCY, MONETARY)
# The skew transform each feature gets before standardisation (training records it in the
# model). Counts, money and day spans of customers are right-skewed: a few big customers
# would otherwise own the distance; tenure is roughly uniform over the shop's life.
SKEW_TRANSFORMS: dict[str, Transform] = {
    RECENCY: "log1p",
    FREQUENCY: "log1p",
    MONETARY: "log1p",
    AVG_ORDER_VALUE: "log1p",
    TENURE: "identity",
}
_DAY_S = 86_400.0


def spark_feature_columns(as_of: Column) -> dict[str, Column]:
    """Feature expressions over `customer_rfm` columns; `as_of` is a timestamp column."""
    last = F.coalesce(F.col("last_purchase_at"), F.col("last_event_at"))
    first = F.coalesce(F.col("first_purchase_at"), F.col("last_event_at"))

    def days(since: Column) -> Column:
        return F.greatest(
            F.lit(0.0), (F.unix_micros(as_of) - F.unix_micros(since)).cast("double") / 1e6 / _DAY_S
        )

    orders = F.col("orders").cast("double")
    return {
        RECENCY: days(last),
        FREQUENCY: orders,
        MONETARY: F.greatest(F.lit(0.0), F.col("monetary").cast("double")),
        AVG_ORDER_VALUE: F.when(
            orders > 0, F.col("gross_revenue").cast("double") / orders
        ).otherwise(F.lit(0.0)),
        TENURE: days(first),
    }


def pandas_features(rfm: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    """The same features over a pandas frame of `customer_rfm` rows (timestamps naive UTC)."""
    as_of_ts = pd.Timestamp(as_of)
    if as_of_ts.tzinfo is not None:
        as_of_ts = as_of_ts.tz_convert("UTC").tz_localize(None)
    last = rfm["last_purchase_at"].fillna(rfm["last_event_at"])
    first = rfm["first_purchase_at"].fillna(rfm["last_event_at"])

    def days(since: pd.Series) -> pd.Series:
        delta = (as_of_ts - pd.to_datetime(since)).dt.total_seconds() / _DAY_S
        return delta.clip(lower=0.0)

    orders = rfm["orders"].astype("float64")
    gross = rfm["gross_revenue"].astype("float64")
    out = pd.DataFrame(index=rfm.index)
    out[RECENCY] = days(last)
    out[FREQUENCY] = orders
    out[MONETARY] = rfm["monetary"].astype("float64").clip(lower=0.0)
    out[AVG_ORDER_VALUE] = np.where(orders > 0, gross / orders.where(orders > 0, 1.0), 0.0)
    out[TENURE] = days(first)
    return out
