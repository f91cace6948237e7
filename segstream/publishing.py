"""Publishing a DataFrame of records to a Kafka topic, from a batch job or a micro-batch.

Delivery: at least once. Spark's Kafka writer does not make a batch of records atomic, so a
writer that replays its unit of work after a crash publishes that unit's records again;
every record segstream publishes is identical the second time, and readers dedupe by the key
its topic's contract names.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from segstream.config import Settings


def publish(records: DataFrame, settings: Settings, topic: str | None) -> None:
    """Writes `records` (columns `key`, `value`, as bytes) to `topic`, or with `topic` None
    each to the topic its `topic` column names."""
    writer = records.write.format("kafka").options(**settings.spark_kafka_options())
    if topic is not None:
        writer = writer.option("topic", topic)
    writer.save()
