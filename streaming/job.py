"""Wires the stream: Kafka `transactions` -> parse -> dedupe -> foreachBatch writes.

Runs as `segstream stream` or `spark-submit streaming/job.py`; both end up in `run()`.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming.query import StreamingQuery

from segstream.config import Settings
from segstream.contracts import tables
from segstream.contracts.quarantine import QUARANTINE_SCHEMA
from segstream.contracts.tables import CUSTOMER_RFM_SCHEMA, EVENTS_SCHEMA
from segstream.spark_session import get_spark
from streaming import sinks, sources, transforms

log = logging.getLogger(__name__)

QUERY_NAME = "transactions"
_STOP_WAIT_S = 120.0


@dataclass(frozen=True)
class Lake:
    events: Path
    quarantine: Path
    customer_rfm: Path

    @classmethod
    def of(cls, settings: Settings) -> Lake:
        return cls(
            settings.table_path(tables.EVENTS),
            settings.table_path(tables.QUARANTINE),
            settings.table_path(tables.CUSTOMER_RFM),
        )


def app_id(checkpoint: Path) -> str:
    """The idempotency key of this query's writes, kept next to its checkpoint.

    A fresh checkpoint restarts batch ids at 0; a new id then keeps Delta from mistaking
    those batches for replays of the old query's.
    """
    checkpoint.mkdir(parents=True, exist_ok=True)
    marker = checkpoint / "segstream-app-id"
    if not marker.is_file():
        marker.write_text(f"segstream-{QUERY_NAME}-{uuid.uuid4()}\n")
    return marker.read_text().strip()


def ensure_tables(spark: SparkSession, lake: Lake) -> None:
    sinks.ensure_table(spark, lake.events, EVENTS_SCHEMA, partition_by=("event_date",))
    sinks.ensure_table(spark, lake.quarantine, QUARANTINE_SCHEMA)
    sinks.ensure_table(spark, lake.customer_rfm, CUSTOMER_RFM_SCHEMA)


def process_batch(
    spark: SparkSession, lake: Lake, txn_app: str
) -> Callable[[DataFrame, int], None]:
    """The foreachBatch body. Each write is idempotent per batch id, and the batch's rows are
    the same on a replay (offsets and dedupe state come from the checkpoint), so a crash
    anywhere in here followed by a restart commits every row exactly once."""

    def handle(batch: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        batch.persist()
        try:
            bad = transforms.quarantined(batch, batch_id)
            events = transforms.valid_events(batch, batch_id).persist()
            sinks.append(bad, lake.quarantine, txn_app, batch_id)
            sinks.append(events, lake.events, txn_app, batch_id)
            deltas = transforms.rfm_deltas(events)
            sinks.upsert(
                spark,
                deltas,
                lake.customer_rfm,
                "customer_id",
                transforms.RFM_MERGE_UPDATE,
                txn_app,
                batch_id,
            )
            n_in, n_ok = batch.count(), events.count()
            log.info(
                "batch %d: %d in, %d valid, %d quarantined, %d customers, %.2f s",
                batch_id,
                n_in,
                n_ok,
                n_in - n_ok,
                deltas.count(),
                time.monotonic() - started,
            )
            events.unpersist()
        finally:
            batch.unpersist()

    return handle


def start_query(spark: SparkSession, settings: Settings, once: bool) -> StreamingQuery:
    lake = Lake.of(settings)
    ensure_tables(spark, lake)
    checkpoint = settings.checkpoint_path(QUERY_NAME)
    txn_app = app_id(checkpoint)
    raw = sources.kafka_topic(spark, settings, settings.topic_transactions)
    deduped = transforms.dedupe_key(transforms.parse(raw)).dropDuplicates(["dedupe_key"])
    writer = (
        deduped.writeStream.queryName(QUERY_NAME)
        .option("checkpointLocation", str(checkpoint))
        .foreachBatch(process_batch(spark, lake, txn_app))
    )
    if once:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=f"{settings.trigger_interval_s} seconds")
    return writer.start()


class _StopFlag:
    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping after the current batch", signal.Signals(signum).name)
        self.event.set()


def _stop_between_batches(query: StreamingQuery) -> None:
    deadline = time.monotonic() + _STOP_WAIT_S
    while query.isActive and query.status.get("isTriggerActive") and time.monotonic() < deadline:
        time.sleep(0.1)
    query.stop()


def run(settings: Settings, once: bool = False) -> None:
    """Runs the stream until SIGTERM/SIGINT (or, with `once`, until the backlog is drained).

    Raises:
        pyspark.errors.StreamingQueryException: the query failed; its cause is in the message.
    """
    stop = _StopFlag()
    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    spark = get_spark(settings, "segstream-stream")
    try:
        query = start_query(spark, settings, once)
        log.info("stream %s started (%s)", QUERY_NAME, "drain and exit" if once else "continuous")
        while query.isActive and not stop.event.is_set():
            query.awaitTermination(1)
        if query.isActive:
            _stop_between_batches(query)
        exc = query.exception()
        if exc is not None:
            raise exc
        log.info("stream %s stopped", QUERY_NAME)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        spark.stop()


def main() -> None:
    """Entry point under spark-submit: `spark-submit streaming/job.py [--once]`."""

    from segstream.cli import main as cli_main

    cli_main(["stream", *sys.argv[1:]])


if __name__ == "__main__":
    main()
