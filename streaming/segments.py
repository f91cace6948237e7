"""Live scoring of the customers a micro-batch touched: pure DataFrame steps."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segstream.contracts.tables import (
    CUSTOMER_SEGMENTS_SCHEMA,
    SEGMENT_HISTORY_SCHEMA,
    SEGMENT_MODEL_COLUMNS,
)
from segstream.model.features import ALL_FEATURES, with_features
from segstream.model.record import SegmentModel
from segstream.model.scoring import spark_assignment

SEGMENT_UPDATE = {c: f"s.{c}" for c in SEGMENT_MODEL_COLUMNS}


def score(rfm: DataFrame, model: SegmentModel, as_of: datetime, cause: str) -> DataFrame:
    """`customer_segments` rows for these `customer_rfm` rows, plus `last_event_at` (the
    event time a segment change is dated by)."""
    as_of_col = F.lit(as_of).cast("timestamp")
    assignment = spark_assignment(model)
    cols = {
        "customer_id": F.col("customer_id"),
        "segment_id": assignment["segment_id"],
        "segment_name": assignment["segment_name"],
        "model_version": F.lit(model.version),
        "distance": assignment["distance"],
        "as_of": as_of_col,
        "scored_at": F.current_timestamp(),
        "cause": F.lit(cause),
    }
    for name in ALL_FEATURES:
        cols[name] = F.col(name)
    return with_features(rfm, as_of_col).select(
        *[
            cols.get(f.name, F.lit(None)).cast(f.dataType).alias(f.name)
            for f in CUSTOMER_SEGMENTS_SCHEMA.fields
        ],
        "last_event_at",
    )


def changes(scored: DataFrame, previous: DataFrame, batch_id: int | None) -> DataFrame:
    """`segment_history` rows for customers whose segment differs from `previous` (rows of
    `customer_segments`); a first assignment is a change from nothing."""
    n, p = scored.alias("n"), previous.alias("p")
    moved = n.join(p, F.col("n.customer_id") == F.col("p.customer_id"), "left").where(
        F.col("p.segment_id").isNull() | (F.col("p.segment_id") != F.col("n.segment_id"))
    )
    cols = {
        "customer_id": F.col("n.customer_id"),
        "from_segment_id": F.col("p.segment_id"),
        "from_segment_name": F.col("p.segment_name"),
        "to_segment_id": F.col("n.segment_id"),
        "to_segment_name": F.col("n.segment_name"),
        "cause": F.col("n.cause"),
        "model_version": F.col("n.model_version"),
        "event_time": F.col("n.last_event_at"),
        "processed_at": F.current_timestamp(),
        "batch_id": F.lit(batch_id),
    }
    return moved.select(
        *[cols[f.name].cast(f.dataType).alias(f.name) for f in SEGMENT_HISTORY_SCHEMA.fields]
    )
