"""The table catalogue: name, schema, partitioning and properties of every Delta table under
the lake. The lake layer (`segstream.lake`) creates tables from it and the monitor reads
them by it; nothing else lists tables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pyspark.sql import types as T

from segstream.contracts.events import ITEM_SCHEMA, MONEY, TOTAL_MONEY
from segstream.contracts.quarantine import QUARANTINE_SCHEMA

EVENTS = "events"
QUARANTINE = "quarantine"
CUSTOMERS = "customers"
CUSTOMER_RFM = "customer_rfm"
CUSTOMER_SEGMENTS = "customer_segments"
SEGMENT_HISTORY = "segment_history"
MODELS = "models"
SEGMENT_SNAPSHOTS = "segment_snapshots"
DRIFT = "drift"
STREAM_METRICS = "stream_metrics"

EVENTS_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType(), False),
        T.StructField("event_type", T.StringType(), False),
        T.StructField("customer_id", T.StringType(), False),
        T.StructField("order_id", T.StringType(), False),
        T.StructField("event_time", T.TimestampType(), False),
        T.StructField("event_date", T.DateType(), False),
        T.StructField("amount", MONEY, False),
        T.StructField("items", T.ArrayType(ITEM_SCHEMA)),
        T.StructField("item_count", T.LongType(), False),
        T.StructField("currency", T.StringType(), False),
        T.StructField("channel", T.StringType()),
        T.StructField("country", T.StringType()),
        T.StructField("produced_at", T.TimestampType()),
        T.StructField("kafka_topic", T.StringType(), False),
        T.StructField("kafka_partition", T.IntegerType(), False),
        T.StructField("kafka_offset", T.LongType(), False),
        T.StructField("batch_id", T.LongType(), False),
        T.StructField("ingested_at", T.TimestampType(), False),
    ]
)

CUSTOMER_RFM_SCHEMA = T.StructType(
    [
        T.StructField("customer_id", T.StringType(), False),
        T.StructField("first_purchase_at", T.TimestampType()),
        T.StructField("last_purchase_at", T.TimestampType()),
        T.StructField("orders", T.LongType(), False),
        T.StructField("gross_revenue", TOTAL_MONEY, False),
        T.StructField("returns_amount", TOTAL_MONEY, False),
        T.StructField("monetary", TOTAL_MONEY, False),
        T.StructField("items", T.LongType(), False),
        T.StructField("last_event_at", T.TimestampType(), False),
        T.StructField("updated_at", T.TimestampType(), False),
    ]
)

MODELS_SCHEMA = T.StructType(
    [
        T.StructField("version", T.LongType(), False),
        T.StructField("status", T.StringType(), False),
        T.StructField("trained_at", T.TimestampType(), False),
        T.StructField("as_of", T.TimestampType(), False),
        T.StructField("engine", T.StringType(), False),
        T.StructField("k", T.IntegerType(), False),
        T.StructField("rows", T.LongType(), False),
        T.StructField("record", T.StringType(), False),
        T.StructField("promoted_at", T.TimestampType()),
    ]
)

# The model columns are written by the stream (touched customers) and the rescore
# (everyone); the classic RFM score columns by `segstream scores`.
CUSTOMER_SEGMENTS_SCHEMA = T.StructType(
    [
        T.StructField("customer_id", T.StringType(), False),
        T.StructField("segment_id", T.IntegerType(), False),
        T.StructField("segment_name", T.StringType(), False),
        T.StructField("model_version", T.LongType(), False),
        T.StructField("distance", T.DoubleType(), False),
        T.StructField("recency_days", T.DoubleType(), False),
        T.StructField("frequency", T.DoubleType(), False),
        T.StructField("monetary", T.DoubleType(), False),
        T.StructField("avg_order_value", T.DoubleType(), False),
        T.StructField("tenure_days", T.DoubleType(), False),
        T.StructField("as_of", T.TimestampType(), False),
        T.StructField("scored_at", T.TimestampType(), False),
        T.StructField("cause", T.StringType(), False),
        T.StructField("r_score", T.IntegerType()),
        T.StructField("f_score", T.IntegerType()),
        T.StructField("m_score", T.IntegerType()),
        T.StructField("rfm_cell", T.StringType()),
        T.StructField("rule_segment", T.StringType()),
        T.StructField("frequency_band", T.StringType()),
    ]
)

# The columns of `customer_segments` that model scoring (stream or rescore) writes; the
# classic RFM score columns belong to `segstream scores`.
SEGMENT_MODEL_COLUMNS = (
    "segment_id",
    "segment_name",
    "model_version",
    "distance",
    "recency_days",
    "frequency",
    "monetary",
    "avg_order_value",
    "tenure_days",
    "as_of",
    "scored_at",
    "cause",
)

SEGMENT_HISTORY_SCHEMA = T.StructType(
    [
        T.StructField("customer_id", T.StringType(), False),
        T.StructField("from_segment_id", T.IntegerType()),
        T.StructField("from_segment_name", T.StringType()),
        T.StructField("to_segment_id", T.IntegerType(), False),
        T.StructField("to_segment_name", T.StringType(), False),
        T.StructField("cause", T.StringType(), False),
        T.StructField("model_version", T.LongType(), False),
        T.StructField("event_time", T.TimestampType(), False),
        T.StructField("processed_at", T.TimestampType(), False),
        T.StructField("batch_id", T.LongType()),
    ]
)

# The `customers` topic's JSON, parsed leniently (a bad field becomes null, the id decides).
CUSTOMER_PROFILE_SCHEMA = T.StructType(
    [
        T.StructField("customer_id", T.StringType()),
        T.StructField("signup_date", T.StringType()),
        T.StructField("birth_year", T.IntegerType()),
        T.StructField("gender", T.StringType()),
        T.StructField("country", T.StringType()),
        T.StructField("region", T.StringType()),
        T.StructField("channel", T.StringType()),
        T.StructField("income_band", T.StringType()),
    ]
)

CUSTOMERS_SCHEMA = T.StructType(
    [
        T.StructField("customer_id", T.StringType(), False),
        T.StructField("signup_date", T.DateType()),
        T.StructField("birth_year", T.IntegerType()),
        T.StructField("gender", T.StringType()),
        T.StructField("country", T.StringType()),
        T.StructField("region", T.StringType()),
        T.StructField("channel", T.StringType()),
        T.StructField("income_band", T.StringType()),
        T.StructField("kafka_partition", T.IntegerType(), False),
        T.StructField("kafka_offset", T.LongType(), False),
        T.StructField("updated_at", T.TimestampType(), False),
    ]
)

STREAM_METRICS_SCHEMA = T.StructType(
    [
        T.StructField("query", T.StringType(), False),
        T.StructField("batch_id", T.LongType(), False),
        T.StructField("started_at", T.TimestampType(), False),
        T.StructField("input_rows", T.LongType(), False),
        T.StructField("valid_rows", T.LongType(), False),
        T.StructField("quarantined_rows", T.LongType(), False),
        T.StructField("duplicates_dropped", T.LongType()),
        T.StructField("customers_touched", T.LongType(), False),
        T.StructField("customers_rescored", T.LongType(), False),
        T.StructField("segment_changes", T.LongType(), False),
        T.StructField("model_version", T.LongType()),
        T.StructField("batch_duration_s", T.DoubleType(), False),
        T.StructField("rows_per_s", T.DoubleType(), False),
        T.StructField("latency_p50_s", T.DoubleType()),
        T.StructField("latency_p95_s", T.DoubleType()),
        T.StructField("latency_max_s", T.DoubleType()),
    ]
)

# One row per segment per snapshot. Variable-shaped profile parts are JSON text so that the
# dashboard (no JVM) reads them without Spark's nested types; see batch/profiles.py.
SEGMENT_SNAPSHOTS_SCHEMA = T.StructType(
    [
        T.StructField("snapshot_id", T.StringType(), False),
        T.StructField("snapshot_time", T.TimestampType(), False),
        T.StructField("kind", T.StringType(), False),
        T.StructField("model_version", T.LongType(), False),
        T.StructField("as_of", T.TimestampType(), False),
        T.StructField("segment_id", T.IntegerType(), False),
        T.StructField("segment_name", T.StringType(), False),
        T.StructField("customers", T.LongType(), False),
        T.StructField("share", T.DoubleType(), False),
        T.StructField("recency_mean", T.DoubleType()),
        T.StructField("recency_median", T.DoubleType()),
        T.StructField("frequency_mean", T.DoubleType()),
        T.StructField("frequency_median", T.DoubleType()),
        T.StructField("monetary_mean", T.DoubleType()),
        T.StructField("monetary_median", T.DoubleType()),
        T.StructField("avg_order_value", T.DoubleType()),
        T.StructField("revenue", T.DoubleType(), False),
        T.StructField("revenue_share", T.DoubleType(), False),
        T.StructField("top_categories", T.StringType(), False),
        T.StructField("demographics", T.StringType(), False),
        T.StructField("demographic_tests", T.StringType(), False),
        T.StructField("purchase_pattern", T.StringType(), False),
    ]
)

# One row per drift measurement; `details` is JSON (per-bin or per-segment parts).
DRIFT_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("measured_at", T.TimestampType(), False),
        T.StructField("model_version", T.LongType(), False),
        T.StructField("metric", T.StringType(), False),
        T.StructField("subject", T.StringType(), False),
        T.StructField("value", T.DoubleType()),
        T.StructField("warn_threshold", T.DoubleType()),
        T.StructField("alert_threshold", T.DoubleType()),
        T.StructField("level", T.StringType(), False),
        T.StructField("alert", T.BooleanType(), False),
        T.StructField("reference", T.StringType(), False),
        T.StructField("details", T.StringType(), False),
    ]
)


# Every table gets deletion vectors: a MERGE then marks replaced rows instead of rewriting
# whole files (one row written per row changed).
_DEFAULT_PROPERTIES = {"delta.enableDeletionVectors": "true"}


@dataclass(frozen=True)
class Table:
    """One Delta table of the lake."""

    name: str
    schema: T.StructType
    partition_by: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=lambda: dict(_DEFAULT_PROPERTIES))


CATALOGUE: Mapping[str, Table] = {
    t.name: t
    for t in (
        Table(EVENTS, EVENTS_SCHEMA, partition_by=("event_date",)),
        Table(QUARANTINE, QUARANTINE_SCHEMA),
        Table(CUSTOMERS, CUSTOMERS_SCHEMA),
        Table(CUSTOMER_RFM, CUSTOMER_RFM_SCHEMA),
        Table(CUSTOMER_SEGMENTS, CUSTOMER_SEGMENTS_SCHEMA),
        Table(SEGMENT_HISTORY, SEGMENT_HISTORY_SCHEMA),
        Table(MODELS, MODELS_SCHEMA),
        Table(SEGMENT_SNAPSHOTS, SEGMENT_SNAPSHOTS_SCHEMA),
        Table(DRIFT, DRIFT_SCHEMA),
        Table(STREAM_METRICS, STREAM_METRICS_SCHEMA),
    )
}


def table(name: str) -> Table:
    """The catalogue's entry for `name`.

    Raises:
        KeyError: naming the known tables, when `name` is not one of them.
    """
    try:
        return CATALOGUE[name]
    except KeyError:
        raise KeyError(f"no table {name!r} in the catalogue: {sorted(CATALOGUE)}") from None
