"""Re-score requests (`segment-control`, see `segstream.contracts.stream_records`): how the
batch side and a model switch ask the stream, the one writer of segments, to score customers
that have no new events."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segstream.config import Settings
from segstream.contracts.stream_records import CAUSES, CONTROL_SCHEMA, JSON_OPTIONS, PURCHASE
from segstream.lake.times import as_of_column
from segstream.publishing import publish


def publish_requests(
    customers: DataFrame,
    settings: Settings,
    cause: str,
    as_of: datetime | None,
    model_version: int | None,
) -> int:
    """Publishes one request per row of `customers` (a `customer_id` column); returns how
    many.

    Args:
        cause: `aging` (the data's as-of moved on) or `retrain` (a new model runs).
        as_of: the as-of to score at, at least (None: the customer's own).
        model_version: the model the request was made for (informational).
    """
    if cause not in CAUSES or cause == PURCHASE:
        raise ValueError(f"a re-score request's cause is aging or retrain, not {cause!r}")
    cols = {
        "customer_id": F.col("customer_id"),
        "cause": F.lit(cause),
        "as_of": F.lit(None).cast("timestamp") if as_of is None else as_of_column(as_of),
        "model_version": F.lit(model_version).cast("long"),
    }
    value = F.struct(*[cols[f.name].cast(f.dataType).alias(f.name) for f in CONTROL_SCHEMA.fields])
    records = customers.select(
        F.col("customer_id").cast("binary").alias("key"),
        F.to_json(value, JSON_OPTIONS).cast("binary").alias("value"),
    ).localCheckpoint()
    count = records.count()
    if count:
        publish(records, settings, settings.topic_segment_control)
    return count
