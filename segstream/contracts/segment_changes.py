"""The segment feed: topic `segment-changes`, one record per change of a customer's segment
(a customer's first segment included), published for marketing systems to act on.

Key: `customer_id` (UTF-8), so one customer's changes stay in order on one partition.
Value: one JSON object (UTF-8) with the fields of `SEGMENT_CHANGE_SCHEMA`:

| field | meaning |
|---|---|
| change_id | `<writer>/<unit>/<customer_id>`: the writer's idempotency id (the stream query's app id, or the rescore's), the unit of work (micro-batch id, or the pinned table version) and the customer; the same change always has the same id |
| customer_id | the customer |
| from_segment_id, from_segment_name | the segment held before; null for a customer's first segment |
| to_segment_id, to_segment_name | the segment held from now on |
| model_version | the model that assigned `to_segment_id` |
| cause | `purchase` (the stream, after the customer's events), `rescore` (recency aged) or `retrain` (a new model) |
| event_time | what the change is dated by: the customer's newest event (purchase) or the as-of (rescore, retrain); ISO-8601 UTC |
| as_of | the data time recency was measured at; ISO-8601 UTC |
| recency_days, frequency, monetary, avg_order_value, tenure_days | the customer's features at `as_of` |

Delivery is at least once: a micro-batch or rescore replayed after a crash publishes its
records again, identical to the first time. Consumers dedupe by `change_id`. Every record is
also a row of the `segment_history` table, with the same change.
"""

from __future__ import annotations

from pyspark.sql import types as T

from segstream.model.features import ALL_FEATURES

SEGMENT_CHANGE_SCHEMA = T.StructType(
    [
        T.StructField("change_id", T.StringType(), False),
        T.StructField("customer_id", T.StringType(), False),
        T.StructField("from_segment_id", T.IntegerType()),
        T.StructField("from_segment_name", T.StringType()),
        T.StructField("to_segment_id", T.IntegerType(), False),
        T.StructField("to_segment_name", T.StringType(), False),
        T.StructField("model_version", T.LongType(), False),
        T.StructField("cause", T.StringType(), False),
        T.StructField("event_time", T.StringType(), False),
        T.StructField("as_of", T.StringType(), False),
        *[T.StructField(name, T.DoubleType(), False) for name in ALL_FEATURES],
    ]
)
