"""The one scoring path: features at an as-of, the nearest segment, the `customer_segments`
rows and the `segment_history` changes they make. The stream (touched customers) and the
rescore (everyone) both score through here; only what they score and when differs.

Every as-of enters Spark through `segstream.lake.times.as_of_column` (UTC).
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from segstream.contracts.segment_changes import SEGMENT_CHANGE_SCHEMA
from segstream.contracts.tables import SEGMENT_HISTORY_SCHEMA, SEGMENT_MODEL_COLUMNS
from segstream.lake.times import as_of_column
from segstream.model.features import ALL_FEATURES, spark_feature_columns
from segstream.model.record import SegmentModel
from segstream.model.scoring import spark_assignment

# How a scored row `s` replaces a customer's row `t` in `customer_segments`: the model
# columns only (the classic RFM score columns belong to `segstream scores`).
SEGMENT_UPDATE = {c: f"s.{c}" for c in SEGMENT_MODEL_COLUMNS}
SEGMENT_INSERT = {**SEGMENT_UPDATE, "customer_id": "s.customer_id"}


def features(rfm: DataFrame, as_of: datetime) -> DataFrame:
    """`customer_id`, `orders`, `gross_revenue`, `last_event_at` and every feature at `as_of`.

    Selects the features by name instead of appending them to `*`: `customer_rfm` already
    has a (decimal) `monetary` column, which the feature of the same name replaces.
    """
    cols = spark_feature_columns(as_of_column(as_of))
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


def _cause(cause: str | None, version: int) -> Column:
    if cause is not None:
        return F.lit(cause)
    other_model = F.col("p.model_version").isNotNull() & (F.col("p.model_version") != version)
    return F.when(other_model, F.lit("retrain")).otherwise(F.lit("rescore"))


def compare(
    rfm: DataFrame,
    previous: DataFrame,
    model: SegmentModel,
    as_of: datetime,
    cause: str | None,
) -> DataFrame:
    """Scores `rfm` rows and sets each beside the customer's stored segment.

    Returns `customer_id`, the model columns of `customer_segments`, `last_event_at` and the
    stored segment as `p_segment_id` / `p_segment_name` (null for a new customer).

    Args:
        rfm: `customer_rfm` rows to score.
        previous: `customer_segments` rows (at least customer_id, segment_id, segment_name,
            model_version) as they were before this scoring.
        cause: the cause of every change; None decides per customer: `retrain` when the
            stored segment came from another model version, `rescore` otherwise.
    """
    n, p = assigned(rfm, model, as_of).alias("n"), previous.alias("p")
    joined = n.join(p, F.col("n.customer_id") == F.col("p.customer_id"), "left")
    cols: dict[str, Column] = {
        "customer_id": F.col("n.customer_id"),
        "segment_id": F.col("n.segment_id"),
        "segment_name": F.col("n.segment_name"),
        "model_version": F.lit(model.version).cast("long"),
        "distance": F.col("n.distance"),
        **{f: F.col(f"n.{f}") for f in ALL_FEATURES},
        "as_of": as_of_column(as_of),
        "scored_at": F.current_timestamp(),
        "cause": _cause(cause, model.version),
        "last_event_at": F.col("n.last_event_at"),
        "p_segment_id": F.col("p.segment_id"),
        "p_segment_name": F.col("p.segment_name"),
    }
    return joined.select(*[c.alias(name) for name, c in cols.items()])


def segment_rows(compared: DataFrame) -> DataFrame:
    """The `customer_segments` model columns of `compare` rows, for an upsert with
    `SEGMENT_UPDATE` / `SEGMENT_INSERT`."""
    return compared.select("customer_id", *SEGMENT_MODEL_COLUMNS)


def changed(compared: DataFrame) -> DataFrame:
    """The `compare` rows whose segment changed; a first assignment is a change from nothing."""
    return compared.where(
        F.col("p_segment_id").isNull() | (F.col("p_segment_id") != F.col("segment_id"))
    )


def history_rows(compared: DataFrame, event_time: Column, batch_id: int | None) -> DataFrame:
    """`segment_history` rows for the `compare` rows whose segment changed.

    Args:
        event_time: what the change is dated by (the stream: the customer's newest event;
            a rescore: its as-of).
        batch_id: the stream's micro-batch, None for a batch job.
    """
    cols = {
        "customer_id": F.col("customer_id"),
        "from_segment_id": F.col("p_segment_id"),
        "from_segment_name": F.col("p_segment_name"),
        "to_segment_id": F.col("segment_id"),
        "to_segment_name": F.col("segment_name"),
        "cause": F.col("cause"),
        "model_version": F.col("model_version"),
        "event_time": event_time,
        "processed_at": F.col("scored_at"),
        "batch_id": F.lit(batch_id),
    }
    return changed(compared).select(
        *[cols[f.name].cast(f.dataType).alias(f.name) for f in SEGMENT_HISTORY_SCHEMA.fields]
    )


def _iso(ts: Column) -> Column:
    return F.date_format(ts, "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")


def change_records(compared: DataFrame, event_time: Column, writer: str, unit: int) -> DataFrame:
    """Records of the segment feed (`key`, `value`) for the `compare` rows whose segment
    changed; see `segstream.contracts.segment_changes`.

    Args:
        event_time: as for `history_rows`.
        writer: the writer's idempotency id; with `unit` and the customer it makes the
            `change_id`, so a replay publishes the same ids.
        unit: the writer's unit of work (micro-batch id, pinned table version).
    """
    cols = {
        "change_id": F.concat_ws("/", F.lit(writer), F.lit(str(unit)), F.col("customer_id")),
        "customer_id": F.col("customer_id"),
        "from_segment_id": F.col("p_segment_id"),
        "from_segment_name": F.col("p_segment_name"),
        "to_segment_id": F.col("segment_id"),
        "to_segment_name": F.col("segment_name"),
        "model_version": F.col("model_version"),
        "cause": F.col("cause"),
        "event_time": _iso(event_time),
        "as_of": _iso(F.col("as_of")),
        **{name: F.col(name) for name in ALL_FEATURES},
    }
    value = F.struct(
        *[cols[f.name].cast(f.dataType).alias(f.name) for f in SEGMENT_CHANGE_SCHEMA.fields]
    )
    return changed(compared).select(
        F.col("customer_id").cast("binary").alias("key"),
        # Every field of the contract is in every record, null where it has no value.
        F.to_json(value, {"ignoreNullFields": "false"}).cast("binary").alias("value"),
    )
