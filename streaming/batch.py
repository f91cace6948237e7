"""The body of each `transactions` micro-batch: write, aggregate, score, measure.

Every write is idempotent per batch id, and a replayed batch has the same rows (its offsets
and the dedupe state come from the checkpoint), so a crash anywhere in here followed by a
restart commits every row exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segstream.config import Settings
from segstream.contracts import tables
from segstream.contracts.quarantine import QUARANTINE_SCHEMA
from segstream.contracts.tables import (
    CUSTOMER_RFM_SCHEMA,
    CUSTOMER_SEGMENTS_SCHEMA,
    EVENTS_SCHEMA,
    SEGMENT_HISTORY_SCHEMA,
    STREAM_METRICS_SCHEMA,
)
from streaming import segments, sinks, transforms
from streaming.metrics import BatchStats, BatchSummary, MetricsRecorder
from streaming.model_cache import ModelCache


@dataclass(frozen=True)
class Lake:
    events: Path
    quarantine: Path
    customer_rfm: Path
    customer_segments: Path
    segment_history: Path
    stream_metrics: Path

    @classmethod
    def of(cls, settings: Settings) -> Lake:
        return cls(
            settings.table_path(tables.EVENTS),
            settings.table_path(tables.QUARANTINE),
            settings.table_path(tables.CUSTOMER_RFM),
            settings.table_path(tables.CUSTOMER_SEGMENTS),
            settings.table_path(tables.SEGMENT_HISTORY),
            settings.table_path(tables.STREAM_METRICS),
        )

    def ensure(self, spark: SparkSession) -> None:
        sinks.ensure_table(spark, self.events, EVENTS_SCHEMA, partition_by=("event_date",))
        sinks.ensure_table(spark, self.quarantine, QUARANTINE_SCHEMA)
        sinks.ensure_table(spark, self.customer_rfm, CUSTOMER_RFM_SCHEMA)
        sinks.ensure_table(spark, self.customer_segments, CUSTOMER_SEGMENTS_SCHEMA)
        sinks.ensure_table(spark, self.segment_history, SEGMENT_HISTORY_SCHEMA)
        sinks.ensure_table(spark, self.stream_metrics, STREAM_METRICS_SCHEMA)


@contextmanager
def computed(frame: DataFrame) -> Iterator[DataFrame]:
    """`frame` computed once and cut from its lineage (a local checkpoint), freed afterwards.

    Not `persist()`: a MERGE does not find its source in the cache and would compute it again
    from the Kafka rows (the whole batch, twice), and a persisted frame recomputes anyway
    when evicted.
    """
    checkpointed = frame.localCheckpoint()
    try:
        yield checkpointed
    finally:
        # The checkpoint's blocks are not in the cache manager: unpersist() would not free
        # them, and they would stay until a JVM garbage collection.
        checkpointed._jdf.queryExecution().analyzed().rdd().unpersist(False)


def tune_session(spark: SparkSession) -> None:
    """Session settings of the stream, set before its queries start (they copy the session).

    Adaptive query execution runs every shuffle stage as a Spark job of its own; a
    micro-batch is a dozen small queries, and with it on a batch ran ~85 jobs instead of
    ~50 and its first batch took 2.5x as long, for no gain on two shuffle partitions.
    """
    spark.conf.set("spark.sql.adaptive.enabled", "false")


def newest_event_time(spark: SparkSession, lake: Lake) -> datetime | None:
    value = spark.read.format("delta").load(str(lake.customer_rfm)).agg(F.max("last_event_at"))
    newest: datetime | None = value.collect()[0][0]
    return newest


class TransactionsBatch:
    """The foreachBatch callable of the `transactions` query."""

    def __init__(
        self,
        spark: SparkSession,
        lake: Lake,
        txn_app: str,
        models: ModelCache,
        recorder: MetricsRecorder,
    ) -> None:
        self._lake = lake
        self._txn_app = txn_app
        self._models = models
        self._recorder = recorder
        # Recency is measured against the newest event time seen, never the wall clock, so
        # replays and accelerated simulations score as real time would.
        self._as_of = newest_event_time(spark, lake)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started_at, started = datetime.now(UTC), time.monotonic()
        batch.persist()
        try:
            summary = BatchSummary.of(batch)
            # Empty appends are skipped: each would still cost a Delta commit. Skipping one
            # is safe for idempotency, which only needs each table's batch ids to grow.
            if summary.quarantined:
                sinks.append(
                    transforms.quarantined(batch, batch_id),
                    self._lake.quarantine,
                    self._txn_app,
                    batch_id,
                )
            touched, rescored, changed, version = 0, 0, 0, None
            if summary.valid:
                events = transforms.valid_events(batch, batch_id)
                sinks.append(events, self._lake.events, self._txn_app, batch_id)
                with computed(transforms.rfm_deltas(events)) as deltas:
                    touched = deltas.count()
                    sinks.upsert(
                        deltas,
                        self._lake.customer_rfm,
                        "customer_id",
                        transforms.RFM_MERGE_UPDATE,
                        self._txn_app,
                        batch_id,
                    )
                    newest = summary.newest_event
                    if newest is not None and (self._as_of is None or newest > self._as_of):
                        self._as_of = newest
                    rescored, changed, version = self._score(
                        batch.sparkSession, deltas, touched, batch_id
                    )
            p50, p95, worst = summary.latency(datetime.now(UTC))
            self._recorder.record(
                BatchStats(
                    batch_id=batch_id,
                    started_at=started_at,
                    processed_rows=summary.rows,
                    valid_rows=summary.valid,
                    customers_touched=touched,
                    customers_rescored=rescored,
                    segment_changes=changed,
                    model_version=version,
                    batch_duration_s=time.monotonic() - started,
                    latency_p50_s=p50,
                    latency_p95_s=p95,
                    latency_max_s=worst,
                )
            )
        finally:
            batch.unpersist()

    def _score(
        self, spark: SparkSession, deltas: DataFrame, touched: int, batch_id: int
    ) -> tuple[int, int, int | None]:
        """Re-scores the touched customers with the promoted model, one model per batch."""
        model = self._models.get()
        if model is None or self._as_of is None:
            return 0, 0, None
        ids = F.broadcast(deltas.select("customer_id"))
        rfm = spark.read.format("delta").load(str(self._lake.customer_rfm)).join(ids, "customer_id")
        with computed(segments.score(rfm, model, self._as_of, "purchase")) as scored:
            previous = (
                spark.read.format("delta")
                .load(str(self._lake.customer_segments))
                .join(ids, "customer_id")
                .select("customer_id", "segment_id", "segment_name")
            )
            # Computed before the writes: recomputed after the upsert, the changes would be
            # measured against the new segments and vanish.
            with computed(segments.changes(scored, previous, batch_id)) as moved:
                changed = moved.count()
                if changed:
                    sinks.append(moved, self._lake.segment_history, self._txn_app, batch_id)
            sinks.upsert(
                scored.drop("last_event_at"),
                self._lake.customer_segments,
                "customer_id",
                segments.SEGMENT_UPDATE,
                self._txn_app,
                batch_id,
            )
        # Every touched customer has a customer_rfm row by now, so all were scored.
        return touched, changed, model.version
