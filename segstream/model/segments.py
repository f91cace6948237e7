"""The one scoring path: features at an as-of and the nearest segment. The stream (each
customer at its own as-of, `streaming.customer_state`) and the batch side (everyone at one
as-of: snapshots, drift) both score through here.

Every as-of given as a time enters Spark through `segstream.lake.times.as_of_column` (UTC).
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segstream.lake.times import as_of_column
from segstream.model.features import ALL_FEATURES, spark_feature_columns
from segstream.model.record import SegmentModel
from segstream.model.scoring import spark_assignment


def feature_columns(as_of: datetime | Column) -> dict[str, Column]:
    """Every feature over `customer_rfm` columns at `as_of` (a time, or a timestamp column:
    each row's own as-of)."""
    return spark_feature_columns(as_of if isinstance(as_of, Column) else as_of_column(as_of))


def features(rfm: DataFrame, as_of: datetime) -> DataFrame:
    """`customer_id`, `orders`, `gross_revenue`, `last_event_at` and every feature at `as_of`.

    Selects the features by name instead of appending them to `*`: `customer_rfm` already
    has a (decimal) `monetary` column, which the feature of the same name replaces.
    """
    cols = feature_columns(as_of)
    return rfm.select(
        "customer_id",
        F.col("orders"),
        F.col("gross_revenue").cast("double").alias("gross_revenue"),
        F.col("last_event_at"),
        *[cols[name].alias(name) for name in ALL_FEATURES],
    )


def with_segments(featured: DataFrame, model: SegmentModel) -> DataFrame:
    """Adds `segment_id`, `segment_name` and `distance` to rows that carry the features."""
    a = spark_assignment(model)
    return featured.select(
        "*",
        a["segment_id"].cast("int").alias("segment_id"),
        a["segment_name"].alias("segment_name"),
        a["distance"].alias("distance"),
    )


def assigned(rfm: DataFrame, model: SegmentModel, as_of: datetime) -> DataFrame:
    """Every customer of `rfm` (rows of `customer_rfm`) with features at `as_of` and the
    model's segment."""
    return with_segments(features(rfm, as_of), model)
