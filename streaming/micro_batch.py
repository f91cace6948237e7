"""The body of each `transactions` micro-batch: write, aggregate, score, measure.

Every write is idempotent per batch id, and a replayed batch has the same rows (its offsets
and the dedupe state come from the checkpoint), so a crash anywhere in here followed by a
restart commits every row exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segstream.config import Settings
from segstream.contracts import tables
from segstream.lake import reads, writes
from segstream.lake.writes import Txn
from segstream.model import segments
from streaming import transforms
from streaming.metrics import BatchStats, BatchSummary, MetricsRecorder
from streaming.model_cache import ModelCache

# The tables the `transactions` query writes, created before it starts.
TABLES = (
    tables.EVENTS,
    tables.QUARANTINE,
    tables.CUSTOMER_RFM,
    tables.CUSTOMER_SEGMENTS,
    tables.SEGMENT_HISTORY,
    tables.STREAM_METRICS,
)


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


class TransactionsMicroBatch:
    """The foreachBatch callable of the `transactions` query."""

    def __init__(
        self,
        spark: SparkSession,
        settings: Settings,
        txn_app: str,
        models: ModelCache,
        recorder: MetricsRecorder,
    ) -> None:
        self._settings = settings
        self._txn_app = txn_app
        self._models = models
        self._recorder = recorder
        # Recency is measured against the newest event time seen, never the wall clock, so
        # replays and accelerated simulations score as real time would.
        self._as_of = reads.newest_event_time(reads.customer_rfm(spark, settings))

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started_at, started = datetime.now(UTC), time.monotonic()
        txn = Txn(self._txn_app, batch_id)
        batch.persist()
        try:
            summary = BatchSummary.of(batch)
            # Empty appends are skipped: each would still cost a Delta commit. Skipping one
            # is safe for idempotency, which only needs each table's batch ids to grow.
            if summary.quarantined:
                writes.append(
                    transforms.quarantined(batch, batch_id),
                    self._settings.table_path(tables.QUARANTINE),
                    txn,
                )
            touched, rescored, changed, version = 0, 0, 0, None
            if summary.valid:
                events = transforms.valid_events(batch, batch_id)
                writes.append(events, self._settings.table_path(tables.EVENTS), txn)
                with computed(transforms.rfm_deltas(events)) as deltas:
                    touched = deltas.count()
                    writes.upsert(
                        deltas,
                        self._settings.table_path(tables.CUSTOMER_RFM),
                        "customer_id",
                        transforms.RFM_MERGE_UPDATE,
                        txn=txn,
                        backoff_s=1.0,
                    )
                    newest = summary.newest_event
                    if newest is not None and (self._as_of is None or newest > self._as_of):
                        self._as_of = newest
                    rescored, changed, version = self._score(
                        batch.sparkSession, deltas, touched, txn
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
        self, spark: SparkSession, deltas: DataFrame, touched: int, txn: Txn
    ) -> tuple[int, int, int | None]:
        """Re-scores the touched customers with the promoted model, one model per batch."""
        model = self._models.get()
        if model is None or self._as_of is None:
            return 0, 0, None
        ids = F.broadcast(deltas.select("customer_id"))
        rfm = reads.customer_rfm(spark, self._settings).join(ids, "customer_id")
        previous = (
            reads.table(spark, self._settings, tables.CUSTOMER_SEGMENTS)
            .join(ids, "customer_id")
            .select("customer_id", "segment_id", "segment_name", "model_version")
        )
        # Computed before the writes: recomputed after the upsert, the changes would be
        # measured against the new segments and vanish.
        with computed(segments.compare(rfm, previous, model, self._as_of, "purchase")) as scored:
            moved = segments.history_rows(scored, F.col("last_event_at"), txn.version)
            with computed(moved) as moved:
                changed = moved.count()
                if changed:
                    writes.append(moved, self._settings.table_path(tables.SEGMENT_HISTORY), txn)
            writes.upsert(
                segments.segment_rows(scored),
                self._settings.table_path(tables.CUSTOMER_SEGMENTS),
                "customer_id",
                segments.SEGMENT_UPDATE,
                txn=txn,
                insert=segments.SEGMENT_INSERT,
                backoff_s=1.0,
            )
        # Every touched customer has a customer_rfm row by now, so all were scored.
        return touched, changed, model.version
