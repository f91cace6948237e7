"""The `customer-tables` query: `customer_rfm` and `customer_segments` in Delta, seconds behind
the feed.

It reads `customer-scores` only (every scoring of the customer state) and per micro-batch
upserts each customer's newest record into `customer_rfm` and `customer_segments`: absolute
totals and the segment held, so a repeat changes nothing, and each upsert is idempotent per
batch id besides. These are the tables people act on, so they have a query of their own: a
batch of it is one Kafka read and two upserts, where the `lake` query's parse and appends of
every event take several times that on the core the hot part leaves. It is the only writer
of their model columns, and it measures both latencies of a purchase: from `produced_at` to
the feed (the record's Kafka time) and to Delta (the commit of `customer_segments`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery

from segstream.config import Settings
from segstream.contracts import tables
from segstream.contracts.stream_records import JSON_OPTIONS, PURCHASE, SCORES_SCHEMA
from segstream.contracts.tables import CUSTOMER_RFM_SCHEMA, SEGMENT_MODEL_COLUMNS
from segstream.lake import writes
from segstream.lake.writes import Txn
from streaming import sources
from streaming.metrics import BatchStats, MetricsRecorder

QUERY = "customer-tables"
# The rows of `stream_metrics` with the latency of purchases to the feed and to
# `customer_segments`.
FEED, LAKE = "feed", "lake"

TABLES = (tables.CUSTOMER_RFM, tables.CUSTOMER_SEGMENTS, tables.STREAM_METRICS)

SEGMENT_UPDATE = {c: f"s.{c}" for c in SEGMENT_MODEL_COLUMNS}
SEGMENT_INSERT = {**SEGMENT_UPDATE, "customer_id": "s.customer_id"}
RFM_UPDATE = {f.name: f"s.{f.name}" for f in CUSTOMER_RFM_SCHEMA.fields if f.name != "customer_id"}

log = logging.getLogger(__name__)


def inputs(spark: SparkSession, settings: Settings) -> DataFrame:
    """`customer-scores` records (`s`) with their Kafka `timestamp`. Not deduplicated: a
    customer's newest record is upserted whole."""
    text = F.col("value").cast("string")
    return sources.kafka_topic(spark, settings, settings.topic_customer_scores).select(
        "timestamp", F.from_json(text, SCORES_SCHEMA, JSON_OPTIONS).alias("s")
    )


def latest_scores(rows: DataFrame) -> DataFrame:
    """Each customer's newest `customer-scores` record of the batch, with its Kafka time as
    `published_at`."""
    s = F.col("s")
    newest = F.max_by(
        F.struct(s.alias("s"), F.col("timestamp").alias("published_at")), s["n_inputs"]
    )
    return (
        rows.where(s.isNotNull())
        .groupBy(s["customer_id"].alias("customer_id"))
        .agg(newest.alias("n"))
        .select("n.s.*", "n.published_at")
    )


def rfm_rows(latest: DataFrame) -> DataFrame:
    cols = {
        **{f.name: F.col(f.name) for f in CUSTOMER_RFM_SCHEMA.fields},
        "monetary": F.col("monetary_amount"),
        "updated_at": F.col("published_at"),
    }
    return latest.select(
        *[cols[f.name].cast(f.dataType).alias(f.name) for f in CUSTOMER_RFM_SCHEMA.fields]
    )


def segment_rows(latest: DataFrame) -> DataFrame:
    cols = {
        **{c: F.col(c) for c in SEGMENT_MODEL_COLUMNS},
        "scored_at": F.col("published_at"),
    }
    return latest.where(F.col("segment_id").isNotNull()).select(
        "customer_id", *[cols[c].alias(c) for c in SEGMENT_MODEL_COLUMNS]
    )


@dataclass(frozen=True)
class _Summary:
    scores: int
    model_version: int | None
    # Percentiles of -produced_at (epoch s) and of feed latency, over the purchases scored.
    lag_q: list[float | None] | None
    lag_max: float | None
    feed_q: list[float | None] | None
    feed_max: float | None

    @classmethod
    def of(cls, rows: DataFrame) -> _Summary:
        s = F.col("s")
        purchase = s.isNotNull() & (s["cause"] == PURCHASE)
        produced = F.when(purchase, s["produced_at"].cast("double"))
        feed = F.when(purchase, F.col("timestamp").cast("double")) - produced
        r = rows.agg(
            F.count(s).alias("scores"),
            F.max(s["model_version"]).alias("model_version"),
            F.percentile_approx(-produced, [0.5, 0.95], 10_000).alias("lag_q"),
            F.max(-produced).alias("lag_max"),
            F.percentile_approx(feed, [0.5, 0.95], 10_000).alias("feed_q"),
            F.max(feed).alias("feed_max"),
        ).collect()[0]
        return cls(**r.asDict())


class CustomerTablesMicroBatch:
    """The foreachBatch callable of the `customer-tables` query."""

    def __init__(self, settings: Settings, txn_app: str, recorder: MetricsRecorder) -> None:
        self._settings = settings
        self._txn_app = txn_app
        self._recorder = recorder

    def _path(self, name: str) -> Path:
        return self._settings.table_path(name)

    def __call__(self, rows: DataFrame, batch_id: int) -> None:
        started_at, started = datetime.now(UTC), time.monotonic()
        txn = Txn(self._txn_app, batch_id)
        rows.persist()
        try:
            summary = _Summary.of(rows)
            read = time.monotonic()
            if not summary.scores:
                return
            latest = latest_scores(rows).persist()
            try:
                writes.upsert(
                    rfm_rows(latest),
                    self._path(tables.CUSTOMER_RFM),
                    "customer_id",
                    RFM_UPDATE,
                    txn=txn,
                    backoff_s=1.0,
                )
                rfm = time.monotonic()
                writes.upsert(
                    segment_rows(latest),
                    self._path(tables.CUSTOMER_SEGMENTS),
                    "customer_id",
                    SEGMENT_UPDATE,
                    txn=txn,
                    insert=SEGMENT_INSERT,
                    backoff_s=1.0,
                )
            finally:
                latest.unpersist()
            done = time.monotonic()
            self._record(batch_id, started_at, done - started, summary, datetime.now(UTC))
            # What bounds a batch that falls behind.
            log.info(
                "%s batch %d steps: read %.2f s, %s %.2f s, %s %.2f s",
                QUERY,
                batch_id,
                read - started,
                tables.CUSTOMER_RFM,
                rfm - read,
                tables.CUSTOMER_SEGMENTS,
                done - rfm,
            )
        finally:
            rows.unpersist()

    def _record(
        self,
        batch_id: int,
        started_at: datetime,
        seconds: float,
        s: _Summary,
        committed_at: datetime,
    ) -> None:
        committed = committed_at.timestamp()
        lag = s.lag_q or [None, None]

        def stats(latency: list[float | None], worst: float | None) -> BatchStats:
            return BatchStats(
                batch_id=batch_id,
                started_at=started_at,
                processed_rows=s.scores,
                valid_rows=s.scores,
                customers_touched=s.scores,
                customers_rescored=s.scores,
                segment_changes=0,
                model_version=s.model_version,
                batch_duration_s=seconds,
                latency_p50_s=latency[0],
                latency_p95_s=latency[1],
                latency_max_s=worst,
            )

        to_lake = [None if v is None else committed + v for v in lag]
        self._recorder.record(
            stats(to_lake, None if s.lag_max is None else committed + s.lag_max), LAKE
        )
        self._recorder.record(stats(list(s.feed_q or [None, None]), s.feed_max), FEED)


def start(
    spark: SparkSession,
    settings: Settings,
    handler: Callable[[DataFrame, int], None],
    trigger: str,
) -> StreamingQuery:
    """Starts the query with `handler` (a `CustomerTablesMicroBatch`, or one wrapped around
    it)."""
    writer = (
        inputs(spark, settings)
        .writeStream.queryName(QUERY)
        .option("checkpointLocation", str(settings.checkpoint_path(QUERY)))
        .foreachBatch(handler)
        .trigger(processingTime=trigger)
    )
    query: StreamingQuery = writer.start()
    return query
