"""Features and nearest-centroid segments of `customer_rfm` rows, as Spark columns."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from batch.lake import as_of_column
from segstream.model.features import ALL_FEATURES, spark_feature_columns
from segstream.model.record import SegmentModel
from segstream.model.scoring import spark_assignment


def features(rfm: DataFrame, as_of: datetime) -> DataFrame:
    """`customer_id`, `orders`, `gross_revenue` and every feature at `as_of`.

    Selects the features by name instead of appending them to `*`: `customer_rfm` already
    has a (decimal) `monetary` column, which the feature of the same name replaces.
    """
    cols = spark_feature_columns(as_of_column(as_of))
    return rfm.select(
        "customer_id",
        F.col("orders"),
        F.col("gross_revenue").cast("double").alias("gross_revenue"),
        *[cols[name].alias(name) for name in ALL_FEATURES],
    )


def segments(featured: DataFrame, model: SegmentModel) -> DataFrame:
    """Adds `segment_id`, `segment_name` and `distance` to rows that carry the features."""
    a = spark_assignment(model)
    return featured.select(
        "*",
        a["segment_id"].cast("int").alias("segment_id"),
        a["segment_name"].alias("segment_name"),
        a["distance"].alias("distance"),
    )


def assigned(rfm: DataFrame, model: SegmentModel, as_of: datetime) -> DataFrame:
    """Every customer of `rfm` with features at `as_of` and the model's segment."""
    return segments(features(rfm, as_of), model)
