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


def kafka_topics(
    spark: SparkSession, settings: Settings, topics: Sequence[str], bounded: bool = True
) -> DataFrame:
    """A streaming DataFrame of the topics' raw records (`topic` tells them apart), from the
    earliest offset on first start (later starts resume from the query's checkpoint).

    Args:
        bounded: read at most `SEGSTREAM_MAX_OFFSETS_PER_TRIGGER` records per batch; else
            every record there is when the batch starts.
    """
    reader = (
        spark.readStream.format("kafka")
        .options(**settings.spark_kafka_options())
        .option("subscribe", ",".join(topics))
        .option("startingOffsets", "earliest")
        .option("includeHeaders", "false")
        .option("kafka.fetch.max.wait.ms", str(_FETCH_MAX_WAIT_MS))
    )
    if bounded:
        reader = reader.option("maxOffsetsPerTrigger", str(settings.max_offsets_per_trigger))
    return reader.load()


def kafka_topic(
    spark: SparkSession, settings: Settings, topic: str, bounded: bool = True
) -> DataFrame:
    """`kafka_topics` of one topic."""
    return kafka_topics(spark, settings, (topic,), bounded)
