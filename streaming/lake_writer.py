"""The `lake` query: the events, the quarantine and the segment history in Delta, behind the
hot path.

It reads `transactions` (parsed and validated by the same `transforms.parse` as the customer
state, so both count the same events) and `segment-changes`, and per micro-batch appends
`events`, `quarantine` and `segment_history` (the changes as published). Every write is
idempotent per batch id (Delta's txnAppId/txnVersion), so a crash anywhere followed by a
restart commits every row once. It is the only writer of those tables, and it measures the
latency of events from `produced_at` to the commit of `events`. The customers' own tables
are the `customer-tables` query's (`streaming/customer_tables.py`).
"""

from __future__ import annotations

import json
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
from segstream.contracts.segment_changes import SEGMENT_CHANGE_SCHEMA
from segstream.contracts.tables import EVENTS_SCHEMA, SEGMENT_HISTORY_SCHEMA
from segstream.lake import writes
from segstream.lake.writes import Txn
from streaming import sources, transforms
from streaming.metrics import BatchStats, MetricsRecorder
from streaming.queries import write_atomically

QUERY = "lake"
# The rows of `stream_metrics` that count the messages of `transactions` (with their latency
# to `events`).
TRANSACTIONS = "transactions"

# The tables the `lake` query writes, created before it starts.
TABLES = (tables.EVENTS, tables.QUARANTINE, tables.SEGMENT_HISTORY, tables.STREAM_METRICS)
_CHANGE_FIELDS = set(SEGMENT_CHANGE_SCHEMA.fieldNames())

log = logging.getLogger(__name__)


def inputs(spark: SparkSession, settings: Settings) -> DataFrame:
    """The query's rows: `transactions` parsed (`transforms.parse`; `kafka_topic` set) and
    `segment-changes` (`ch`, with its Kafka `timestamp`), each deduplicated on its key (a
    duplicate event id, a change republished by a replay)."""
    parsed = transforms.dedupe_key(
        transforms.parse(sources.kafka_topic(spark, settings, settings.topic_transactions))
    )
    changes = transforms.stream_records(
        sources.kafka_topic(spark, settings, settings.topic_segment_changes),
        SEGMENT_CHANGE_SCHEMA,
    )
    # A rejected change keeps its bytes and coordinates for the quarantine, not `kafka_topic`:
    # the rows with one are the messages of `transactions`.
    changes = changes.select(
        F.col("kafka_timestamp").alias("timestamp"),
        F.col("rec").alias("ch"),
        transforms.rejected().alias("bad_change"),
        F.when(F.col("reason").isNull(), F.concat(F.lit("c:"), F.col("rec.change_id")))
        .otherwise(F.concat_ws(":", F.lit("q"), "kafka_topic", "kafka_partition", "kafka_offset"))
        .alias("dedupe_key"),
    )
    return (
        parsed.unionByName(changes, allowMissingColumns=True)
        .dropDuplicates(["dedupe_key"])
        .drop("dedupe_key")
    )


def messages(rows: DataFrame) -> DataFrame:
    """The rows of `inputs` that are messages of `transactions`."""
    return rows.where(F.col("kafka_topic").isNotNull())


def quarantine_rows(rows: DataFrame, batch_id: int) -> DataFrame:
    """The rejected messages of `transactions` and the rejected records of
    `segment-changes`, shaped as the `quarantine` table."""
    bad_changes = transforms.quarantined_records(rows, "bad_change", batch_id)
    return transforms.quarantined(messages(rows), batch_id).unionByName(bad_changes)


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
    changes: int
    model_version: int | None
    # Percentiles and max of -produced_at (epoch s) over the valid events.
    lag_q: list[float | None] | None
    lag_max: float | None

    @classmethod
    def of(cls, rows: DataFrame) -> _Summary:
        valid = F.col("kafka_topic").isNotNull() & F.col("reason").isNull()
        produced = F.when(valid, transforms.produced_at().cast("double"))
        r = rows.agg(
            F.count(F.when(valid, True)).alias("events"),
            (F.count(F.col("reason")) + F.count(F.col("bad_change"))).alias("quarantined"),
            F.count(F.col("ch")).alias("changes"),
            F.max(F.col("ch.model_version")).alias("model_version"),
            F.percentile_approx(-produced, [0.5, 0.95], 10_000).alias("lag_q"),
            F.max(-produced).alias("lag_max"),
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
            events_committed = datetime.now(UTC).timestamp()
            if summary.quarantined:
                writes.append(quarantine_rows(rows, batch_id), self._path(tables.QUARANTINE), txn)
                mark = step(tables.QUARANTINE, mark)
            if summary.changes:
                writes.append(history_rows(rows, batch_id), self._path(tables.SEGMENT_HISTORY), txn)
                step(tables.SEGMENT_HISTORY, mark)
            self._record(
                batch_id, started_at, time.monotonic() - started, summary, events_committed
            )
            log.info(
                "lake batch %d steps: %s",
                batch_id,
                ", ".join(f"{name} {seconds:.2f} s" for name, seconds in steps),
            )
        finally:
            rows.unpersist()

    def _record(
        self, batch_id: int, started_at: datetime, seconds: float, s: _Summary, committed: float
    ) -> None:
        lag = [None if v is None else committed + v for v in s.lag_q or [None, None]]
        self._recorder.record(
            BatchStats(
                batch_id=batch_id,
                started_at=started_at,
                processed_rows=s.events + s.quarantined,
                valid_rows=s.events,
                customers_touched=0,
                customers_rescored=0,
                segment_changes=s.changes,
                model_version=s.model_version,
                batch_duration_s=seconds,
                latency_p50_s=lag[0],
                latency_p95_s=lag[1],
                latency_max_s=None if s.lag_max is None else committed + s.lag_max,
            ),
            TRANSACTIONS,
        )


def upgrade_checkpoint(settings: Settings) -> int:
    """Fits a checkpoint written when the query also read `customer-scores` (now the
    `customer-tables` query's) to the query's two sources; returns the offset files changed.

    That source was the last of three, and the de-duplication state never held its rows, so
    dropping its line from each offset file is all Spark needs to resume; the
    `customer-tables` query reads those records from the start (upserts of whole records: a
    repeat changes nothing). The file's checksum goes too: Hadoop reads a file without one.
    """
    offsets = settings.checkpoint_path(QUERY) / "offsets"
    if not offsets.is_dir():
        return 0
    changed = 0
    for path in sorted(p for p in offsets.iterdir() if p.name.isdigit()):
        lines = path.read_text().splitlines()
        # "v1", the batch's metadata, then one line per source.
        if len(lines) != 5 or set(json.loads(lines[4])) != {settings.topic_customer_scores}:
            continue
        (offsets / f".{path.name}.crc").unlink(missing_ok=True)
        write_atomically(path, "\n".join(lines[:4]))
        changed += 1
    if changed:
        log.info(
            "%s: dropped %s from %d offset files (read by the customer-tables query now)",
            offsets,
            settings.topic_customer_scores,
            changed,
        )
    return changed


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
