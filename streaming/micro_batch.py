"""The body of each `transactions` micro-batch: write, aggregate, score, publish, measure.

Every Delta write is idempotent per batch id, and a replayed batch has the same rows (its
offsets and the dedupe state come from the checkpoint) and the same model and as-of (its
plan, recorded before the first write), so a crash anywhere in here followed by a restart
commits every row exactly once and publishes the same segment changes again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segstream.config import Settings
from segstream.contracts import tables
from segstream.lake import reads, writes
from segstream.lake.writes import Txn
from segstream.model import segments
from segstream.model.record import SegmentModel
from streaming import transforms
from streaming.batch_plans import BatchPlan, BatchPlans
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


Publisher = Callable[[DataFrame], None]
"""Publishes segment-feed records (`key`, `value`); the job's is `segstream.feed.publish`."""


class TransactionsMicroBatch:
    """The foreachBatch callable of the `transactions` query."""

    def __init__(
        self,
        spark: SparkSession,
        settings: Settings,
        txn_app: str,
        models: ModelCache,
        recorder: MetricsRecorder,
        plans: BatchPlans,
        publish: Publisher,
    ) -> None:
        self._settings = settings
        self._txn_app = txn_app
        self._models = models
        self._recorder = recorder
        self._plans = plans
        self._publish = publish
        # Recency is measured against the newest event time seen, never the wall clock, so
        # replays and accelerated simulations score as real time would.
        self._as_of = reads.newest_event_time(reads.customer_rfm(spark, settings))

    def _plan(self, batch_id: int, batch: DataFrame) -> tuple[BatchPlan, DataFrame, BatchSummary]:
        """The batch's plan (the recorded one of a replayed batch, else the promoted model
        and the newest event time seen, recorded now), its rows with those too far ahead of
        the as-of quarantined, and their summary."""
        recorded = self._plans.get(batch_id)
        prior = self._as_of if recorded is None else recorded.prior_as_of
        lead = timedelta(days=self._settings.as_of_max_ahead_days)
        batch = transforms.beyond_as_of(batch, None if prior is None else prior + lead)
        summary = BatchSummary.of(batch)
        plan = recorded
        if plan is None:
            as_of = prior
            newest = summary.newest_event
            if newest is not None and (as_of is None or newest > as_of):
                as_of = newest
            model = self._models.get()
            plan = self._plans.record(
                batch_id, BatchPlan(None if model is None else model.version, prior, as_of)
            )
        if plan.as_of is not None and (self._as_of is None or plan.as_of > self._as_of):
            self._as_of = plan.as_of
        return plan, batch, summary

    def __call__(self, rows: DataFrame, batch_id: int) -> None:
        started_at, started = datetime.now(UTC), time.monotonic()
        txn = Txn(self._txn_app, batch_id)
        rows.persist()
        try:
            plan, batch, summary = self._plan(batch_id, rows)
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
                    rescored, changed, version = self._score(
                        batch.sparkSession, deltas, touched, txn, plan
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
            rows.unpersist()

    def _score(
        self, spark: SparkSession, deltas: DataFrame, touched: int, txn: Txn, plan: BatchPlan
    ) -> tuple[int, int, int | None]:
        """Re-scores the touched customers with the batch's model at its as-of."""
        if plan.model_version is None or plan.as_of is None:
            return 0, 0, None
        model: SegmentModel = self._models.version(plan.model_version)
        ids = F.broadcast(deltas.select("customer_id"))
        rfm = reads.customer_rfm(spark, self._settings).join(ids, "customer_id")
        previous = (
            reads.table(spark, self._settings, tables.CUSTOMER_SEGMENTS)
            .join(ids, "customer_id")
            .select("customer_id", "segment_id", "segment_name", "model_version")
        )
        # Computed before the writes: recomputed after the upsert, the changes would be
        # measured against the new segments and vanish.
        with computed(segments.compare(rfm, previous, model, plan.as_of, "purchase")) as scored:
            dated_by = F.col("last_event_at")
            with computed(segments.history_rows(scored, dated_by, txn.version)) as moved:
                changed = moved.count()
                if changed:
                    # Published before the writes: a replay after any of them computes the
                    # same changes (the segments' upsert comes last) and publishes them again.
                    records = segments.change_records(scored, dated_by, txn.app_id, txn.version)
                    self._publish(records)
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
