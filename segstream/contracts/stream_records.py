"""The stream's own records, and the re-score requests it takes.

Two topics, each keyed by `customer_id` (UTF-8), so one customer's records stay in order on
one partition. Values are JSON objects (UTF-8) with the fields of the schemas below,
timestamps ISO-8601 UTC with microseconds (`JSON_OPTIONS`).

- `customer-scores` (`SCORES_SCHEMA`): a customer's running totals (the `customer_rfm`
  columns), features and segment, published every time something new reached the customer
  (an event or a re-score request). `n_inputs` counts those inputs: it orders one
  customer's records, and the customer's latest record is the state the stream holds.
- `segment-control` (`CONTROL_SCHEMA`): a request to re-score one customer, written by the
  batch side (`segstream rescore`: `aging`, at a newer as-of) and by the stream itself
  after a model promotion (`retrain`). The stream scores the customer with the model it
  runs at the newest of the customer's as-ofs and the request's.

Replays publish identical records again; readers dedupe (`dedupe key` per schema).
"""

from __future__ import annotations

from typing import Final

from pyspark.sql import types as T

from segstream.contracts.events import TOTAL_MONEY
from segstream.model.features import ALL_FEATURES

# The query that keeps the customer state (its checkpoint holds the state store).
STATE_QUERY: Final = "customer-state"

JSON_OPTIONS: Final = {"timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"}

AGING: Final = "aging"
RETRAIN: Final = "retrain"
PURCHASE: Final = "purchase"
CAUSES: Final = (PURCHASE, AGING, RETRAIN)

# Dedupe key: (`customer_id`, `n_inputs`). `produced_at` is the newest event's, for
# latency; the segment fields are null while no model is promoted.
SCORES_SCHEMA = T.StructType(
    [
        T.StructField("customer_id", T.StringType(), False),
        T.StructField("n_inputs", T.LongType(), False),
        T.StructField("n_events", T.LongType(), False),
        T.StructField("first_purchase_at", T.TimestampType()),
        T.StructField("last_purchase_at", T.TimestampType()),
        T.StructField("orders", T.LongType(), False),
        T.StructField("gross_revenue", TOTAL_MONEY, False),
        T.StructField("returns_amount", TOTAL_MONEY, False),
        T.StructField("monetary_amount", TOTAL_MONEY, False),
        T.StructField("items", T.LongType(), False),
        T.StructField("last_event_at", T.TimestampType()),
        T.StructField("produced_at", T.TimestampType()),
        T.StructField("as_of", T.TimestampType()),
        T.StructField("segment_id", T.IntegerType()),
        T.StructField("segment_name", T.StringType()),
        T.StructField("model_version", T.LongType()),
        T.StructField("distance", T.DoubleType()),
        *[T.StructField(name, T.DoubleType()) for name in ALL_FEATURES],
        T.StructField("cause", T.StringType(), False),
        T.StructField("changed", T.BooleanType(), False),
    ]
)

# Dedupe: none needed (a repeated request re-scores to the same segment).
CONTROL_SCHEMA = T.StructType(
    [
        T.StructField("customer_id", T.StringType(), False),
        T.StructField("cause", T.StringType(), False),
        T.StructField("as_of", T.TimestampType()),
        T.StructField("model_version", T.LongType()),
    ]
)
