"""Kafka sources of the stream."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession

from segstream.config import Settings

# A Kafka consumer sends its next fetch as soon as a poll returns, and the broker holds a
# fetch with nothing new for up to fetch.max.wait.ms (500 ms by default). The next batch's
# task seeks the cached consumer and must first wait out that fetch: measured here, every
# source task of the customer state idled ~500 ms per batch (30 ms of CPU in a 570 ms task),
# about a third of each batch.
_FETCH_MAX_WAIT_MS = 10


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
        .option("kafka.fetch.max.wait.ms", str(_FETCH_MAX_WAIT_MS))
        .load()
    )


def kafka_topic(spark: SparkSession, settings: Settings, topic: str) -> DataFrame:
    """`kafka_topics` of one topic."""
    return kafka_topics(spark, settings, (topic,))
