"""Kafka sources of the stream."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession

from segstream.config import Settings


def kafka_topics(spark: SparkSession, settings: Settings, topics: Sequence[str]) -> DataFrame:
    """A streaming DataFrame of the topics' raw records (`topic` tells them apart), from the
    earliest offset on first start (later starts resume from the query's checkpoint)."""
    return (
        spark.readStream.format("kafka")
        .options(**settings.spark_kafka_options())
        .option("subscribe", ",".join(topics))
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", str(settings.max_offsets_per_trigger))
        .option("includeHeaders", "false")
        .load()
    )


def kafka_topic(spark: SparkSession, settings: Settings, topic: str) -> DataFrame:
    """`kafka_topics` of one topic."""
    return kafka_topics(spark, settings, (topic,))
