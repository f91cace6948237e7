"""The `lake` query: the analytic truth in Delta, behind the hot path.

It reads `transactions` (parsed and validated by the same `transforms.parse` as the customer
state, so both count the same events), `segment-changes` and `customer-scores`, and per
micro-batch writes `events` and `quarantine` (appends), `customer_rfm` and
`customer_segments` (upserts of the customers' latest records: absolute totals, so a repeat
changes nothing) and `segment_history` (the changes as published). Every write is idempotent per batch id
(Delta's txnAppId/txnVersion), so a crash anywhere followed by a restart commits every row
once. It is the only writer of those tables, and it measures both latencies: from
`produced_at` to the feed (the records' Kafka time) and to Delta (its commit).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery

from segstream.config import Settings
from segstream.contracts import tables
from segstream.contracts.segment_changes import SEGMENT_CHANGE_SCHEMA
from segstream.contracts.stream_records import (
    JSON_OPTIONS,
    PURCHASE,
    SCORES_SCHEMA,
)
from segstream.contracts.tables import (
    CUSTOMER_RFM_SCHEMA,
    EVENTS_SCHEMA,
    SEGMENT_HISTORY_SCHEMA,
    SEGMENT_MODEL_COLUMNS,
)
from segstream.lake import writes
from segstream.lake.writes import Txn
from streaming import sources, transforms
from streaming.metrics import BatchStats, MetricsRecorder

QUERY = "lake"
FEED = "feed"
# The rows of `stream_metrics` that count the messages of `transactions`.
TRANSACTIONS = "transactions"

# The tables the `lake` query writes, created before it starts.
TABLES = (
    tables.EVENTS,
    tables.QUARANTINE,
    tables.CUSTOMER_RFM,
    tables.CUSTOMER_SEGMENTS,
    tables.SEGMENT_HISTORY,
    tables.STREAM_METRICS,
)

SEGMENT_UPDATE = {c: f"s.{c}" for c in SEGMENT_MODEL_COLUMNS}
SEGMENT_INSERT = {**SEGMENT_UPDATE, "customer_id": "s.customer_id"}
RFM_UPDATE = {f.name: f"s.{f.name}" for f in CUSTOMER_RFM_SCHEMA.fields if f.name != "customer_id"}
_CHANGE_FIELDS = set(SEGMENT_CHANGE_SCHEMA.fieldNames())

log = logging.getLogger(__name__)


@contextmanager
def computed(frame: DataFrame) -> Iterator[DataFrame]:
    """`frame` computed once and cut from its lineage (a local checkpoint), freed afterwards.

    Not `persist()`: a MERGE does not find its source in the cache and would compute it again
    from the Kafka rows.
    """
    checkpointed = frame.localCheckpoint()
    try:
        yield checkpointed
    finally:
        # The checkpoint's blocks are not in the cache manager: unpersist() would not free
        # them, and they would stay until a JVM garbage collection.
        checkpointed._jdf.queryExecution().analyzed().rdd().unpersist(False)


def inputs(spark: SparkSession, settings: Settings) -> DataFrame:
    """The query's rows: `transactions` parsed (`transforms.parse`; `kafka_topic` set),
    `segment-changes` (`ch`) and `customer-scores` (`s`), these two with their Kafka
    `timestamp`.

    Messages and changes are deduplicated on their keys (a duplicate event id, a change
    republished by a replay); score records need not be (a customer's latest is upserted
    whole).
    """
    text = F.col("value").cast("string")
    parsed = transforms.dedupe_key(
        transforms.parse(sources.kafka_topic(spark, settings, settings.topic_transactions))
    )
    changes = (
        sources.kafka_topic(spark, settings, settings.topic_segment_changes)
        .select("timestamp", F.from_json(text, SEGMENT_CHANGE_SCHEMA, JSON_OPTIONS).alias("ch"))
        .withColumn("dedupe_key", F.concat(F.lit("c:"), F.col("ch.change_id")))
    )
    scores = sources.kafka_topic(spark, settings, settings.topic_customer_scores).select(
        "timestamp", F.from_json(text, SCORES_SCHEMA, JSON_OPTIONS).alias("s")
    )
    deduped = (
        parsed.unionByName(changes, allowMissingColumns=True)
        .dropDuplicates(["dedupe_key"])
        .drop("dedupe_key")
    )
    return deduped.unionByName(scores, allowMissingColumns=True)


def messages(rows: DataFrame) -> DataFrame:
    """The rows of `inputs` that are messages of `transactions`."""
    return rows.where(F.col("kafka_topic").isNotNull())


def events_rows(rows: DataFrame, batch_id: int) -> DataFrame:
    cols = {
        **{c: F.col(c) for c in transforms.EVENT_COLUMNS.fieldNames()},
        "event_date": F.to_date("event_time"),
        "batch_id": F.lit(batch_id),
        "ingested_at": F.current_timestamp(),
    }
    return transforms.events(messages(rows)).select(
        *[cols[f.name].cast(f.dataType).alias(f.name) for f in EVENTS_SCHEMA.fields]
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


def history_rows(rows: DataFrame, batch_id: int) -> DataFrame:
    ch = F.col("ch")
    cols = {
        **{f.name: ch[f.name] for f in SEGMENT_HISTORY_SCHEMA.fields if f.name in _CHANGE_FIELDS},
        "event_time": F.to_timestamp(ch["event_time"]),
        "processed_at": F.col("timestamp"),
        "batch_id": F.lit(batch_id),
    }
    return rows.where(ch.isNotNull()).select(
        *[cols[f.name].cast(f.dataType).alias(f.name) for f in SEGMENT_HISTORY_SCHEMA.fields]
    )


@dataclass(frozen=True)
class _Summary:
    events: int
    quarantined: int
    scores: int
    changes: int
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
            F.count(
                F.when(F.col("kafka_topic").isNotNull() & F.col("reason").isNull(), True)
            ).alias("events"),
            F.count(F.col("reason")).alias("quarantined"),
            F.count(s).alias("scores"),
            F.count(F.col("ch")).alias("changes"),
            F.max(s["model_version"]).alias("model_version"),
            F.percentile_approx(-produced, [0.5, 0.95], 10_000).alias("lag_q"),
            F.max(-produced).alias("lag_max"),
            F.percentile_approx(feed, [0.5, 0.95], 10_000).alias("feed_q"),
            F.max(feed).alias("feed_max"),
        ).collect()[0]
        return cls(**r.asDict())


class LakeMicroBatch:
    """The foreachBatch callable of the `lake` query."""

    def __init__(self, settings: Settings, txn_app: str, recorder: MetricsRecorder) -> None:
        self._settings = settings
        self._txn_app = txn_app
        self._recorder = recorder

    def _path(self, name: str) -> Path:
        return self._settings.table_path(name)

    def __call__(self, rows: DataFrame, batch_id: int) -> None:
        started_at, started = datetime.now(UTC), time.monotonic()
        txn = Txn(self._txn_app, batch_id)
        # Seconds per step, logged: what bounds a batch that falls behind.
        steps: list[tuple[str, float]] = []

        def step(name: str, mark: float) -> float:
            now = time.monotonic()
            steps.append((name, now - mark))
            return now

        rows.persist()
        try:
            summary = _Summary.of(rows)
            mark = step("read", started)
            # Empty writes are skipped: each would still cost a Delta commit. Skipping one is
            # safe for idempotency, which only needs each table's batch ids to grow.
            if summary.events:
                writes.append(events_rows(rows, batch_id), self._path(tables.EVENTS), txn)
                mark = step(tables.EVENTS, mark)
            if summary.quarantined:
                writes.append(
                    transforms.quarantined(messages(rows), batch_id),
                    self._path(tables.QUARANTINE),
                    txn,
                )
                mark = step(tables.QUARANTINE, mark)
            if summary.changes:
                writes.append(history_rows(rows, batch_id), self._path(tables.SEGMENT_HISTORY), txn)
                mark = step(tables.SEGMENT_HISTORY, mark)
            if summary.scores:
                with computed(latest_scores(rows)) as latest:
                    mark = step("latest scores", mark)
                    writes.upsert(
                        rfm_rows(latest),
                        self._path(tables.CUSTOMER_RFM),
                        "customer_id",
                        RFM_UPDATE,
                        txn=txn,
                        backoff_s=1.0,
                    )
                    mark = step(tables.CUSTOMER_RFM, mark)
                    writes.upsert(
                        segment_rows(latest),
                        self._path(tables.CUSTOMER_SEGMENTS),
                        "customer_id",
                        SEGMENT_UPDATE,
                        txn=txn,
                        insert=SEGMENT_INSERT,
                        backoff_s=1.0,
                    )
                    step(tables.CUSTOMER_SEGMENTS, mark)
            self._record(batch_id, started_at, time.monotonic() - started, summary)
            log.info(
                "lake batch %d steps: %s",
                batch_id,
                ", ".join(f"{name} {seconds:.2f} s" for name, seconds in steps),
            )
        finally:
            rows.unpersist()

    def _record(self, batch_id: int, started_at: datetime, seconds: float, s: _Summary) -> None:
        committed = datetime.now(UTC).timestamp()
        lag = s.lag_q or [None, None]
        feed = s.feed_q or [None, None]

        def stats(latency: list[float | None], worst: float | None) -> BatchStats:
            return BatchStats(
                batch_id=batch_id,
                started_at=started_at,
                processed_rows=s.events + s.quarantined,
                valid_rows=s.events,
                customers_touched=s.scores,
                customers_rescored=s.scores,
                segment_changes=s.changes,
                model_version=s.model_version,
                batch_duration_s=seconds,
                latency_p50_s=latency[0],
                latency_p95_s=latency[1],
                latency_max_s=worst,
            )

        to_lake = [None if v is None else committed + v for v in lag]
        lake = stats(to_lake, None if s.lag_max is None else committed + s.lag_max)
        self._recorder.record(lake, QUERY)
        self._recorder.record(stats(list(feed), s.feed_max), FEED)
        self._recorder.record(lake, TRANSACTIONS)


def start(
    spark: SparkSession,
    settings: Settings,
    handler: Callable[[DataFrame, int], None],
    trigger: str,
) -> StreamingQuery:
    """Starts the query with `handler` (a `LakeMicroBatch`, or one wrapped around it)."""
    writer = (
        inputs(spark, settings)
        .writeStream.queryName(QUERY)
        .option("checkpointLocation", str(settings.checkpoint_path(QUERY)))
        .foreachBatch(handler)
        .trigger(processingTime=trigger)
    )
    query: StreamingQuery = writer.start()
    return query
