"""Why a message was quarantined: the reason codes and the `quarantine` table schema."""

from __future__ import annotations

from typing import Final

from pyspark.sql import types as T

EMPTY_MESSAGE: Final = "empty_message"
NOT_UTF8: Final = "not_utf8"
OVERSIZED: Final = "oversized"
INVALID_JSON: Final = "invalid_json"
MISSING_FIELD: Final = "missing_field"
INVALID_TYPE: Final = "invalid_type"
INVALID_EVENT_TYPE: Final = "invalid_event_type"
EMPTY_CUSTOMER_ID: Final = "empty_customer_id"
INVALID_AMOUNT: Final = "invalid_amount"
INVALID_ITEM: Final = "invalid_item"
INVALID_EVENT_TIME: Final = "invalid_event_time"
FUTURE_EVENT_TIME: Final = "future_event_time"
OLD_EVENT_TIME: Final = "old_event_time"
ID_TOO_LONG: Final = "id_too_long"
# A record on one of the stream's own topics (segment-control, customer-scores,
# segment-changes) that does not parse to its contract's schema.
MALFORMED_RECORD: Final = "malformed_record"
# A re-score request whose as-of lies too far past the time the broker took it.
FUTURE_AS_OF: Final = "future_as_of"

# The reasons of a message of `transactions`.
REASONS: Final = (
    EMPTY_MESSAGE,
    NOT_UTF8,
    OVERSIZED,
    INVALID_JSON,
    MISSING_FIELD,
    INVALID_TYPE,
    INVALID_EVENT_TYPE,
    EMPTY_CUSTOMER_ID,
    INVALID_AMOUNT,
    INVALID_ITEM,
    INVALID_EVENT_TIME,
    FUTURE_EVENT_TIME,
    OLD_EVENT_TIME,
    ID_TOO_LONG,
)

QUARANTINE_SCHEMA = T.StructType(
    [
        T.StructField("reason", T.StringType(), False),
        T.StructField("detail", T.StringType(), False),
        T.StructField("raw_key", T.BinaryType()),
        T.StructField("raw_value", T.BinaryType()),
        T.StructField("kafka_topic", T.StringType(), False),
        T.StructField("kafka_partition", T.IntegerType(), False),
        T.StructField("kafka_offset", T.LongType(), False),
        T.StructField("kafka_timestamp", T.TimestampType()),
        T.StructField("batch_id", T.LongType(), False),
        T.StructField("quarantined_at", T.TimestampType(), False),
    ]
)
