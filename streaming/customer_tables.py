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

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.streaming.query import StreamingQuery
from pyspark.sql.types import StructType

from segstream.config import Settings
from segstream.contracts import tables
from segstream.contracts.stream_records import PURCHASE, SCORES_SCHEMA
from segstream.contracts.tables import (
    CUSTOMER_RFM_SCHEMA,
    CUSTOMER_SEGMENTS_SCHEMA,
    SEGMENT_MODEL_COLUMNS,
)
from segstream.lake import writes
from segstream.lake.writes import Txn
from streaming import sources, transforms
from streaming.metrics import BatchStats, MetricsRecorder

QUERY = "customer-tables"
# The rows of `stream_metrics` with the latency of purchases to the feed and to
# `customer_segments`.
FEED, LAKE = "feed", "lake"

TABLES = (tables.CUSTOMER_RFM, tables.CUSTOMER_SEGMENTS, tables.QUARANTINE, tables.STREAM_METRICS)

SEGMENT_UPDATE = {c: f"s.{c}" for c in SEGMENT_MODEL_COLUMNS}
SEGMENT_INSERT = {**SEGMENT_UPDATE, "customer_id": "s.customer_id"}
RFM_UPDATE = {f.name: f"s.{f.name}" for f in CUSTOMER_RFM_SCHEMA.fields if f.name != "customer_id"}
# The tables' rows as Arrow, in the types of their Delta columns.
_RFM_ARROW = to_arrow_schema(CUSTOMER_RFM_SCHEMA, timezone="UTC")
_SEGMENT_ARROW = to_arrow_schema(
    StructType(
        [
            CUSTOMER_SEGMENTS_SCHEMA["customer_id"],
            *[CUSTOMER_SEGMENTS_SCHEMA[c] for c in SEGMENT_MODEL_COLUMNS],
        ]
    ),
    timezone="UTC",
)

log = logging.getLogger(__name__)


def inputs(spark: SparkSession, settings: Settings) -> DataFrame:
    """`customer-scores` records (`s`) with their Kafka `timestamp`, and `bad` (the
    quarantine row, without the batch's columns) of a record that is not one
    (`transforms.stream_records`). Not deduplicated: a customer's newest record is upserted
    whole."""
    rows = transforms.stream_records(
        sources.kafka_topic(spark, settings, settings.topic_customer_scores), SCORES_SCHEMA
    )
    return rows.select(
        F.col("kafka_timestamp").alias("timestamp"),
        F.col("rec").alias("s"),
        transforms.rejected().alias("bad"),
    )


def records(rows: DataFrame) -> pa.Table:
    """The batch's `customer-scores` records, flat (`SCORES_SCHEMA`), with their Kafka time
    as `published_at`, and `rejected` (true for a record to quarantine): the batch's one
    Spark job."""
    return rows.select(
        F.col("timestamp").alias("published_at"),
        "s.*",
        F.col("bad").isNotNull().alias("rejected"),
    ).toArrow()


def newest(scores: pa.Table) -> pa.Table:
    """Each customer's newest record (the highest `n_inputs`): the state the stream holds."""
    ordered = scores.sort_by([("customer_id", "ascending"), ("n_inputs", "ascending")])
    ids = ordered["customer_id"].combine_chunks()
    last = pc.not_equal(ids[:-1], ids[1:]) if len(ids) > 1 else pa.array([], pa.bool_())
    return ordered.filter(pa.concat_arrays([last, pa.array([True])]))


def _table(columns: dict[str, pa.ChunkedArray], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_arrays([columns[f.name].cast(f.type) for f in schema], schema=schema)


def rfm_rows(latest: pa.Table) -> pa.Table:
    columns = {name: latest[name] for name in latest.column_names}
    columns |= {"monetary": latest["monetary_amount"], "updated_at": latest["published_at"]}
    return _table(columns, _RFM_ARROW)


def segment_rows(latest: pa.Table) -> pa.Table:
    scored = latest.filter(pc.is_valid(latest["segment_id"]))
    columns = {name: scored[name] for name in scored.column_names}
    columns["scored_at"] = scored["published_at"]
    return _table(columns, _SEGMENT_ARROW)


@dataclass(frozen=True)
class _Summary:
    scores: int
    model_version: int | None
    # The purchases' `produced_at` and feed latency (their Kafka time minus it), epoch s.
    produced: np.ndarray
    feed: np.ndarray

    @classmethod
    def of(cls, scores: pa.Table) -> _Summary:
        purchase = pc.and_(pc.equal(scores["cause"], PURCHASE), pc.is_valid(scores["produced_at"]))
        bought = scores.filter(purchase)

        def seconds(column: str) -> np.ndarray:
            micros = bought[column].cast(pa.int64()).to_numpy(zero_copy_only=False)
            return np.asarray(micros, dtype=np.float64) / 1e6

        produced = seconds("produced_at")
        version = pc.max(scores["model_version"]).as_py()
        return cls(scores.num_rows, version, produced, seconds("published_at") - produced)


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
        everything = records(rows)
        rejected = everything["rejected"]
        scores = everything.filter(pc.invert(rejected)).drop_columns(["rejected"])
        read = time.monotonic()
        if pc.any(rejected).as_py():
            # A second Spark job, only for a batch that has records to quarantine.
            writes.append(
                transforms.quarantined_records(rows, "bad", batch_id),
                self._path(tables.QUARANTINE),
                txn,
            )
            log.warning(
                "%s batch %d: quarantined %d records", QUERY, batch_id, pc.sum(rejected).as_py()
            )
        if not scores.num_rows:
            return
        latest = newest(scores)
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
        committed = datetime.now(UTC).timestamp()
        done = time.monotonic()
        self._record(batch_id, started_at, done - started, _Summary.of(scores), committed)
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

    def _record(
        self, batch_id: int, started_at: datetime, seconds: float, s: _Summary, committed: float
    ) -> None:
        def stats(latency: np.ndarray) -> BatchStats:
            p50, p95, worst = (
                (float(v) for v in (*np.quantile(latency, [0.5, 0.95]), latency.max()))
                if latency.size
                else (None, None, None)
            )
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
                latency_p50_s=p50,
                latency_p95_s=p95,
                latency_max_s=worst,
            )

        self._recorder.record(stats(committed - s.produced), LAKE)
        self._recorder.record(stats(s.feed), FEED)


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
