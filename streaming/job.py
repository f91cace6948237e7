"""Wires the stream: two queries, `transactions` and `customers`, each with its own checkpoint.

Runs as `segstream stream` or `spark-submit streaming/job.py [--once]`; both end up in `run()`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql.streaming.query import StreamingQuery

from segstream import feed, log_config, options
from segstream.config import Settings
from segstream.contracts import tables
from segstream.errors import SegstreamError
from segstream.lake import writes
from segstream.runtime.signals import stop_on_signals
from segstream.spark_session import get_spark
from streaming import sources, transforms
from streaming.batch_plans import BatchPlans
from streaming.customers import CustomersMicroBatch
from streaming.metrics import MetricsRecorder
from streaming.micro_batch import TABLES, TransactionsMicroBatch, tune_session
from streaming.model_cache import ModelCache

log = logging.getLogger(__name__)

TRANSACTIONS = "transactions"
CUSTOMERS = "customers"
_STOP_WAIT_S = 120.0


def app_id(checkpoint: Path, query: str) -> str:
    """The idempotency key of a query's writes, kept next to its checkpoint.

    A fresh checkpoint restarts batch ids at 0; a new id then keeps Delta from mistaking
    those batches for replays of the old query's.
    """
    checkpoint.mkdir(parents=True, exist_ok=True)
    marker = checkpoint / "segstream-app-id"
    if not marker.is_file():
        marker.write_text(f"segstream-{query}-{uuid.uuid4()}\n")
    return marker.read_text().strip()


def _trigger(writer, settings: Settings, once: bool):  # type: ignore[no-untyped-def]
    if once:
        return writer.trigger(availableNow=True)
    return writer.trigger(processingTime=f"{settings.trigger_interval_s} seconds")


def start_transactions(
    spark: SparkSession, settings: Settings, once: bool
) -> tuple[StreamingQuery, MetricsRecorder]:
    checkpoint = settings.checkpoint_path(TRANSACTIONS)
    txn_app = app_id(checkpoint, TRANSACTIONS)
    recorder = MetricsRecorder(TRANSACTIONS, settings.table_path(tables.STREAM_METRICS), txn_app)
    plans = BatchPlans(checkpoint / "segstream-plans")
    handler = TransactionsMicroBatch(
        spark,
        settings,
        txn_app,
        ModelCache(spark, settings),
        recorder,
        plans,
        lambda records: feed.publish(records, settings),
    )
    raw = sources.kafka_topic(spark, settings, settings.topic_transactions)
    deduped = transforms.dedupe_key(transforms.parse(raw)).dropDuplicates(["dedupe_key"])
    writer = (
        deduped.writeStream.queryName(TRANSACTIONS)
        .option("checkpointLocation", str(checkpoint))
        .foreachBatch(handler)
    )
    return _trigger(writer, settings, once).start(), recorder


def start_customers(spark: SparkSession, settings: Settings, once: bool) -> StreamingQuery:
    checkpoint = settings.checkpoint_path(CUSTOMERS)
    customers = writes.ensure(spark, settings, tables.CUSTOMERS)
    handler = CustomersMicroBatch(
        spark,
        customers,
        settings.table_path(tables.QUARANTINE),
        app_id(checkpoint, CUSTOMERS),
    )
    writer = (
        sources.kafka_topic(spark, settings, settings.topic_customers)
        .writeStream.queryName(CUSTOMERS)
        .option("checkpointLocation", str(checkpoint))
        .foreachBatch(handler)
    )
    query: StreamingQuery = _trigger(writer, settings, once).start()
    return query


def _stop_between_batches(query: StreamingQuery) -> None:
    deadline = time.monotonic() + _STOP_WAIT_S
    while query.isActive and query.status.get("isTriggerActive") and time.monotonic() < deadline:
        time.sleep(0.1)
    query.stop()


def run(settings: Settings, once: bool = False) -> None:
    """Runs the stream until SIGTERM/SIGINT (or, with `once`, until the backlog is drained).

    Raises:
        pyspark.errors.StreamingQueryException: a query failed; its cause is in the message.
    """
    spark = get_spark(settings, "segstream-stream")
    tune_session(spark)
    try:
        # Entered after the SparkSession exists, whose creation installs PySpark's own SIGINT
        # handler (it would cancel the running batch instead of letting it finish).
        with stop_on_signals("stopping after the current batch") as stop:
            writes.ensure_all(spark, settings, TABLES)
            customers = start_customers(spark, settings, once)
            transactions, recorder = start_transactions(spark, settings, once)
            queries = [transactions, customers]
            log.info("stream started (%s)", "drain and exit" if once else "continuous")
            while any(q.isActive for q in queries) and not stop.is_set():
                transactions.awaitTermination(1)
                recorder.flush(spark, transactions.recentProgress)
                if any(q.exception() for q in queries):
                    break
            for q in queries:
                if q.isActive:
                    _stop_between_batches(q)
            recorder.flush(spark, transactions.recentProgress)
            for q in queries:
                exc = q.exception()
                if exc is not None:
                    raise exc
            log.info("stream stopped")
    finally:
        spark.stop()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="streaming/job.py",
        parents=[options.settings_parser()],
        description="The streaming job: Kafka -> events, quarantine, customer_rfm, segments "
        "(the same as `segstream stream`).",
        epilog=options.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--once", action="store_true", help="process everything available, then exit")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """`spark-submit streaming/job.py [--once] [settings options]`."""
    args = parser().parse_args(argv)
    log_config.configure(args.log_level)
    try:
        run(options.settings_from(args), once=args.once)
    except SegstreamError as exc:
        print(f"streaming/job.py: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
