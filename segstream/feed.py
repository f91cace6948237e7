"""Publishing the segment feed (`segstream.contracts.segment_changes`) to Kafka.

Delivery: at least once. Spark's Kafka writer does not make a batch of records atomic, so a
writer that replays its unit of work after a crash publishes that unit's records again;
they are identical to the first ones (same `change_id`), and consumers dedupe by it.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from segstream.config import Settings


def publish(records: DataFrame, settings: Settings) -> None:
    """Writes `records` (columns `key`, `value`, as bytes) to the segment-changes topic."""
    (
        records.write.format("kafka")
        .options(**settings.spark_kafka_options())
        .option("topic", settings.topic_segment_changes)
        .save()
    )
