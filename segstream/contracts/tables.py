"""Names and schemas of the Delta tables under the lake."""

from __future__ import annotations

from pyspark.sql import types as T

from segstream.contracts.events import ITEM_SCHEMA, MONEY

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
        T.StructField("gross_revenue", MONEY, False),
        T.StructField("returns_amount", MONEY, False),
        T.StructField("monetary", MONEY, False),
        T.StructField("items", T.LongType(), False),
        T.StructField("last_event_at", T.TimestampType(), False),
        T.StructField("updated_at", T.TimestampType(), False),
    ]
)
