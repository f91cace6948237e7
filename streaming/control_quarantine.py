"""The `segment-control` query: the re-score requests the customer state rejects, in
`quarantine`.

The customer state ignores a request that is not a record of its topic or whose as-of lies
too far past the time the broker took it (`transforms.control_records`); this query, in the
lake part, judges every request by the same function and appends the rejected ones with
their reason, bytes and Kafka coordinates, idempotent per batch id. Nothing else of the
topic is written: the valid requests are the customer state's.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery

from segstream.config import Settings
from segstream.lake import writes
from streaming import sources, transforms

QUERY = "segment-control"


class ControlQuarantineMicroBatch:
    """The foreachBatch callable of the `segment-control` query."""

    def __init__(self, quarantine: Path, txn_app: str) -> None:
        self._quarantine = quarantine
        self._txn_app = txn_app

    def __call__(self, rows: DataFrame, batch_id: int) -> None:
        rejected = rows.where(F.col("reason").isNotNull())
        # Nearly every batch has none; an empty append would still cost a Delta commit.
        if rejected.isEmpty():
            return
        writes.append(
            transforms.quarantined(rejected, batch_id),
            self._quarantine,
            writes.Txn(self._txn_app, batch_id),
        )


def start(
    spark: SparkSession, settings: Settings, handler: ControlQuarantineMicroBatch, trigger: str
) -> StreamingQuery:
    raw = sources.kafka_topic(spark, settings, settings.topic_segment_control)
    writer = (
        transforms.control_records(raw, settings.as_of_max_ahead_h)
        .writeStream.queryName(QUERY)
        .option("checkpointLocation", str(settings.checkpoint_path(QUERY)))
        .foreachBatch(handler)
        .trigger(processingTime=trigger)
    )
    query: StreamingQuery = writer.start()
    return query
