"""Kafka sources of the stream."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from segstream.config import Settings


def kafka_topic(spark: SparkSession, settings: Settings, topic: str) -> DataFrame:
    """A streaming DataFrame of one topic's raw records, from the earliest offset on first start
    (later starts resume from the query's checkpoint)."""
    return (
        spark.readStream.format("kafka")
        .options(**settings.spark_kafka_options())
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", str(settings.max_offsets_per_trigger))
        .option("includeHeaders", "false")
        .load()
    )
