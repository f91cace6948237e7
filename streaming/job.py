"""Wires the stream: three queries, each with its own checkpoint.

    transactions ──▶ customer-state ──▶ segment-changes (the feed)
         │  segment-control ──▲  │  ──▶ customer-scores ─┐
         │                       └────── (held segment) ◀┘
         ▼
       lake ◀── segment-changes, customer-scores
         └──▶ events, quarantine, customer_rfm, customer_segments, segment_history (Delta)
    customers ──▶ customers (Delta)

`customer-state` is the hot path (no table on it, one micro-batch from a purchase to the
feed); `lake` writes Delta behind it. The job's
loop also switches the customer state to a newly promoted model and asks it to re-score
everyone (`segstream.rescore_requests`). See docs/architecture.md.

Runs as `segstream stream` or `spark-submit streaming/job.py [--once]`; both end up in `run()`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming.query import StreamingQuery

from segstream import log_config, options
from segstream.config import Settings
from segstream.contracts import tables
from segstream.errors import SegstreamError
from segstream.lake import writes
from segstream.runtime.signals import stop_on_signals
from segstream.spark_session import get_spark, use_pool
from streaming import lake_writer, sources
from streaming.customers import CustomersMicroBatch
from streaming.metrics import MetricsRecorder
from streaming.model_switch import CustomerState
from streaming.queries import app_id, caught_up, every, stop_between_batches

log = logging.getLogger(__name__)

CUSTOMERS = "customers"
# How long a stop waits for the queries' running batches to end, all queries together.
_STOP_WAIT_S = 10.0
# How often the loop writes the metrics it holds (a Delta commit) and looks for a promotion.
_FLUSH_S = 10.0
_MODEL_CHECK_S = 5.0
# `--once`: the queries must have read everything this many checks in a row (the lake reads
# what the customer state writes, and the customer state reads its own).
_IDLE_CHECKS = 3
# The cores go to the hot path first: with one FIFO queue a Delta MERGE of the lake query
# held both cores for seconds while the customer state waited behind it.
HOT, LAKE = "hot", "lake"
POOLS = {HOT: 20, LAKE: 1}


def in_pool(
    handler: Callable[[DataFrame, int], None], pool: str
) -> Callable[[DataFrame, int], None]:
    """A foreachBatch function whose Spark jobs run in `pool`: the function runs in a thread
    of PySpark's callback server, which does not inherit the query's pool."""

    def run(batch: DataFrame, batch_id: int) -> None:
        use_pool(batch.sparkSession, pool)
        handler(batch, batch_id)

    return run


def start_lake(spark: SparkSession, settings: Settings) -> tuple[StreamingQuery, MetricsRecorder]:
    txn_app = app_id(settings.checkpoint_path(lake_writer.QUERY), lake_writer.QUERY)
    recorder = MetricsRecorder(
        lake_writer.QUERY,
        settings.table_path(tables.STREAM_METRICS),
        txn_app,
        {lake_writer.TRANSACTIONS: settings.topic_transactions},
    )
    handler = lake_writer.LakeMicroBatch(settings, txn_app, recorder)
    query = lake_writer.start(
        spark, settings, in_pool(handler, LAKE), every(settings.trigger_interval_s)
    )
    return query, recorder


def start_customers(spark: SparkSession, settings: Settings) -> StreamingQuery:
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
        .foreachBatch(in_pool(handler, LAKE))
        .trigger(processingTime=every(settings.trigger_interval_s))
    )
    query: StreamingQuery = writer.start()
    return query


def run(settings: Settings, once: bool = False) -> None:
    """Runs the stream until SIGTERM/SIGINT (or, with `once`, until every query is idle).

    Raises:
        pyspark.errors.StreamingQueryException: a query failed; its cause is in the message.
    """
    spark = get_spark(settings, "segstream-stream", POOLS)
    # Adaptive query execution runs every shuffle stage as a Spark job of its own; on two
    # shuffle partitions that only adds jobs to every micro-batch.
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    try:
        # Entered after the SparkSession exists, whose creation installs PySpark's own SIGINT
        # handler (it would cancel the running batch instead of letting it finish).
        with stop_on_signals("stopping after the current batches") as stop:
            writes.ensure_all(spark, settings, lake_writer.TABLES)
            use_pool(spark, HOT)
            state = CustomerState(spark, settings)
            state.start()
            if state.promotion_pending():
                state.switch(_STOP_WAIT_S)
            use_pool(spark, LAKE)
            lake, lake_metrics = start_lake(spark, settings)
            customers = start_customers(spark, settings)
            use_pool(spark, HOT)

            def queries() -> list[StreamingQuery]:
                assert state.query is not None
                return [state.query, lake, customers]

            def flush() -> None:
                use_pool(spark, LAKE)
                lake_metrics.flush(spark, lake.recentProgress)
                use_pool(spark, HOT)

            log.info("stream started (%s)", "drain and exit" if once else "continuous")
            flushed = checked = time.monotonic()
            idle = 0
            while not stop.is_set():
                time.sleep(0.5)
                state.log_progress()
                if any(not q.isActive or q.exception() for q in queries()):
                    break
                now = time.monotonic()
                # A stop asked for meanwhile comes first: a switch takes seconds.
                if now - checked >= _MODEL_CHECK_S and not stop.is_set():
                    checked = now
                    if state.promotion_pending():
                        state.switch(_STOP_WAIT_S)
                if now - flushed >= _FLUSH_S:
                    flush()
                    flushed = now
                if once:
                    idle = idle + 1 if caught_up(queries(), settings) else 0
                    if idle >= _IDLE_CHECKS:
                        break
            stop_between_batches([q for q in queries() if q.isActive], _STOP_WAIT_S)
            flush()
            for q in queries():
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
        description="The streaming job: Kafka -> customer state -> segment feed, and the "
        "Delta tables behind it (the same as `segstream stream`).",
        epilog=options.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--once",
        action="store_true",
        help="process everything available (and what that produces), then exit",
    )
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
