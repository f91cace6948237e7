"""Wires the stream: five queries, each with its own checkpoint, in two parts.

    transactions ──▶ customer-state ──▶ segment-changes (the feed)
         │  segment-control ──▲  │  ──▶ customer-scores ─┐
         │                       └────── (held segment) ◀┘
         ▼                                              │
       lake ◀── segment-changes                         ▼
         └──▶ events, quarantine, segment_history   customer-tables ──▶ customer_rfm,
    customers ──▶ customers (Delta)                                     customer_segments
    segment-control ──▶ quarantine (the requests the customer state rejects)

The hot part is `customer-state` (no table on it, one micro-batch from a purchase to the
feed); each of its batches scores with the model promoted when it starts, and after a
promotion its loop asks it to re-score everyone (`segstream.rescore_requests`). The lake
part (`customer-tables`, `lake`, `customers`) writes Delta behind it, in a process of its own
at a lower CPU priority. See docs/architecture.md.

Runs as `segstream stream` (both parts: `run()`) or `spark-submit streaming/job.py --part
hot|lake [--once]` (one part each).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from pyspark.sql import SparkSession
from pyspark.sql.streaming.query import StreamingQuery

from segstream import log_config, options
from segstream.config import Settings
from segstream.contracts import tables
from segstream.errors import SegstreamError
from segstream.lake import writes
from segstream.runtime.processes import die_with_parent
from segstream.runtime.signals import stop_on_signals
from segstream.spark_session import get_spark, under_spark_submit
from streaming import (
    control_quarantine,
    customer_state,
    customer_tables,
    customers,
    lake_writer,
    sources,
)
from streaming.hot_query import CustomerState
from streaming.metrics import MetricsRecorder
from streaming.queries import (
    app_id,
    caught_up,
    drop_interrupted_first_batch,
    every,
    stop_between_batches,
)
from streaming.rebuild import remove_derived

# Named, not __name__: the lake part runs this module as __main__.
log = logging.getLogger("streaming.job")

# How long a stop waits for the queries' running batches to end, all queries together.
_STOP_WAIT_S = 10.0
# The lake part's, shorter: niced on a busy machine its batch can take a minute, and every
# write of it is idempotent, so the next start replays an interrupted batch exactly.
_LAKE_STOP_WAIT_S = 3.0
# A lake part that exits on its own starts again after this, doubled at each failure in a row
# up to the maximum; with `--once` the stream gives up after so many failures in a row.
_LAKE_BACKOFF_S = 1.0
_LAKE_BACKOFF_MAX_S = 60.0
_ONCE_LAKE_ATTEMPTS = 4
# How often the lake part's loop writes the metrics it holds (a Delta commit).
_FLUSH_S = 10.0
# `--once`: the queries must have read everything this many checks in a row (the lake reads
# what the customer state writes, and the customer state reads its own).
_IDLE_CHECKS = 3
# The stream's two parts, each its own Spark application: `customer-state` (hot), and `lake`
# with `customers` behind it, at a lower CPU priority. In one application the cores were
# shared evenly (fair-scheduler pools only order tasks waiting for a slot): each 10-25 s lake
# batch (two MERGEs) slowed every customer-state batch 5x, to 6-7 s.
HOT_PART, LAKE_PART = "hot", "lake"
_POOL = "spark.scheduler.pool"


def start_lake(spark: SparkSession, settings: Settings) -> tuple[StreamingQuery, MetricsRecorder]:
    txn_app = app_id(settings, lake_writer.QUERY)
    recorder = MetricsRecorder(
        lake_writer.QUERY,
        settings.table_path(tables.STREAM_METRICS),
        txn_app,
        {lake_writer.TRANSACTIONS: settings.topic_transactions},
    )
    handler = lake_writer.LakeMicroBatch(settings, txn_app, recorder)
    query = lake_writer.start(spark, settings, handler, every(settings.trigger_interval_s))
    return query, recorder


def start_customer_tables(
    spark: SparkSession, settings: Settings
) -> tuple[StreamingQuery, MetricsRecorder]:
    txn_app = app_id(settings, customer_tables.QUERY)
    recorder = MetricsRecorder(
        customer_tables.QUERY, settings.table_path(tables.STREAM_METRICS), txn_app, {}
    )
    handler = customer_tables.CustomerTablesMicroBatch(settings, txn_app, recorder)
    query = customer_tables.start(spark, settings, handler, every(settings.trigger_interval_s))
    return query, recorder


def start_customers(spark: SparkSession, settings: Settings) -> StreamingQuery:
    checkpoint = settings.checkpoint_path(customers.QUERY)
    table = writes.ensure(spark, settings, tables.CUSTOMERS)
    handler = customers.CustomersMicroBatch(
        spark,
        table,
        settings.table_path(tables.QUARANTINE),
        app_id(settings, customers.QUERY),
    )
    writer = (
        sources.kafka_topic(spark, settings, settings.topic_customers)
        .writeStream.queryName(customers.QUERY)
        .option("checkpointLocation", str(checkpoint))
        .foreachBatch(handler)
        .trigger(processingTime=every(settings.trigger_interval_s))
    )
    query: StreamingQuery = writer.start()
    return query


def start_control_quarantine(spark: SparkSession, settings: Settings) -> StreamingQuery:
    handler = control_quarantine.ControlQuarantineMicroBatch(
        settings.table_path(tables.QUARANTINE), app_id(settings, control_quarantine.QUERY)
    )
    return control_quarantine.start(spark, settings, handler, every(settings.trigger_interval_s))


def check_checkpoints(settings: Settings, part: str | None) -> None:
    """Refuses, before anything starts, a checkpoint that the lake's writes do not belong to
    (`streaming.queries.app_id`), and clears what a kill left of a first batch
    (`streaming.queries.drop_interrupted_first_batch`). `part`: HOT_PART, LAKE_PART or None
    (both).

    Raises:
        CheckpointLost: naming the query, its checkpoint and what to do.
        EarlierCheckpoint: the customer state's checkpoint must be rebuilt.
    """
    queries = {
        HOT_PART: (customer_state.QUERY,),
        LAKE_PART: (
            lake_writer.QUERY,
            customer_tables.QUERY,
            customers.QUERY,
            control_quarantine.QUERY,
        ),
    }
    if part != HOT_PART:
        lake_writer.upgrade_checkpoint(settings)
    if part != LAKE_PART:
        customer_state.check_layout(settings)
    for name in queries.get(part or "", (*queries[HOT_PART], *queries[LAKE_PART])):
        app_id(settings, name)
        drop_interrupted_first_batch(settings.checkpoint_path(name))


def stream_session(settings: Settings, app_name: str, cores: int) -> SparkSession:
    """The session the stream's parts run in, taking at most `cores` of a cluster."""
    spark = get_spark(settings, app_name, cores)
    # Adaptive query execution runs every shuffle stage as a Spark job of its own; on two
    # shuffle partitions that only adds jobs to every micro-batch.
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    return spark


class _LakePart:
    """The lake part as a child process at a lower CPU priority. It stops when its stdin
    closes (`release`; see `run_lake`), or when this process dies."""

    def __init__(self, settings: Settings, once: bool) -> None:
        def lower_priority() -> None:
            die_with_parent()
            os.nice(settings.background_nice)

        cmd = [sys.executable, "-m", "streaming.job", "--part", LAKE_PART, "--follow-stdin"]
        self._once = once
        self._proc = subprocess.Popen(
            [*cmd, "--once"] if once else cmd,
            env=settings.to_env(),
            stdin=subprocess.PIPE,
            preexec_fn=lower_priority,
        )

    def gone(self) -> bool:
        return self._proc.poll() is not None

    def release(self) -> None:
        """Tells the lake part that the hot part is done: it stops, or with `once` drains."""
        assert self._proc.stdin is not None
        if not self._proc.stdin.closed:
            self._proc.stdin.close()

    def wait(self) -> int:
        self.release()
        try:
            return self._proc.wait(timeout=None if self._once else _STOP_WAIT_S * 2)
        except subprocess.TimeoutExpired:
            log.error("the lake part did not stop in %.0f s: killing it", _STOP_WAIT_S * 2)
            self._proc.kill()
            return self._proc.wait()


class _LakeKeeper:
    """Keeps the lake part running beside the hot part: a lake part that exits on its own is
    started again after a backoff that doubles up to `_LAKE_BACKOFF_MAX_S` (reset once a run
    lasted that long), and every query of it resumes from its checkpoint, exactly. The hot
    part never stops for it. With `once`, `_ONCE_LAKE_ATTEMPTS` failures in a row give up."""

    def __init__(self, settings: Settings, once: bool) -> None:
        self._settings = settings
        self._once = once
        self._released = False
        self._failures = 0
        self._backoff_s = _LAKE_BACKOFF_S
        self._restart_at: float | None = None
        self._part = _LakePart(settings, once)
        self._started = time.monotonic()

    def keep(self) -> None:
        """Called from the hot part's loop: notices an exit and restarts when it is due."""
        if self._released or self.failed():
            return
        now = time.monotonic()
        if self._restart_at is None:
            if not self._part.gone():
                return
            code = self._part.wait()
            if now - self._started >= _LAKE_BACKOFF_MAX_S:
                self._failures, self._backoff_s = 0, _LAKE_BACKOFF_S
            self._failures += 1
            self._restart_at = now + self._backoff_s
            log.error(
                "the lake part of the stream exited with status %d (failure %d in a row): "
                "starting it again in %.0f s; the feed goes on",
                code,
                self._failures,
                self._backoff_s,
            )
            self._backoff_s = min(self._backoff_s * 2, _LAKE_BACKOFF_MAX_S)
        elif now >= self._restart_at:
            self._restart_at = None
            self._part = _LakePart(self._settings, self._once)
            self._started = now
            log.info("the lake part of the stream started again")

    def failed(self) -> bool:
        """With `once`: the lake part failed too often in a row to try again."""
        return self._once and self._failures >= _ONCE_LAKE_ATTEMPTS

    def release(self) -> None:
        self._released = True
        self._part.release()

    def wait(self) -> int:
        """Releases the lake part and waits for it; with `once`, a part that is down is first
        run again until it drains or fails for good."""
        self._released = True
        while self._once and not self.failed():
            self._part.release()
            code = self._part.wait()
            if code == 0:
                return 0
            self._released = False
            self._started = time.monotonic()
            self.keep()
            while self._restart_at is not None and not self.failed():
                time.sleep(0.2)
                self.keep()
            self._released = True
        return self._part.wait()


def run(settings: Settings, once: bool = False, rebuild: bool = False) -> None:
    """Runs the whole stream until SIGTERM/SIGINT (or, with `once`, until every query is
    idle): the hot part in this process, the lake part in a child process whose CPU share
    yields to it (`SEGSTREAM_BACKGROUND_NICE`). `rebuild`: first remove what the stream
    derived (`streaming.rebuild`), so that it is derived again from the topics.

    Raises:
        SegstreamError: the lake part failed (its log says why).
        pyspark.errors.StreamingQueryException: a query failed; its cause is in the message.
    """
    if rebuild:
        remove_derived(settings)
    check_checkpoints(settings, None)
    spark = stream_session(settings, "segstream-stream", settings.spark_hot_cores)
    try:
        # Started once this process has resolved the jars, so the two never fetch them at once.
        lake = _LakeKeeper(settings, once)
        try:
            run_hot(spark, settings, once, lake)
        finally:
            code = lake.wait()
    finally:
        spark.stop()
    if code != 0:
        raise SegstreamError(f"the lake part of the stream exited with status {code}")


def _release_on(stop: threading.Event, lake: _LakeKeeper) -> None:
    stop.wait()
    lake.release()


def run_hot(spark: SparkSession, settings: Settings, once: bool, lake: _LakeKeeper | None) -> None:
    """The customer state: `customer-state`, and the re-score after a promotion; `lake`, the
    lake part it runs with (None: run alone)."""

    # Entered after the SparkSession exists, whose creation installs PySpark's own SIGINT
    # handler (it would cancel the running batch instead of letting it finish).
    with stop_on_signals("stopping after the current batch") as stop:
        if lake is not None:
            # The lake part stops beside the hot part, not after it: the hot part may be in
            # a re-score request or a batch that takes seconds, and the two stops add up.
            threading.Thread(target=_release_on, args=(stop, lake), daemon=True).start()
        state = CustomerState(spark, settings)
        query = state.start()
        log.info("customer state started (%s)", "drain and exit" if once else "continuous")
        idle = 0
        while not stop.is_set():
            time.sleep(0.5)
            if lake is not None:
                lake.keep()
            state.log_progress()
            if not query.isActive or query.exception():
                break
            state.rescore_if_due()
            if once:
                idle = idle + 1 if caught_up([query], settings) else 0
                if idle >= _IDLE_CHECKS:
                    break
        if lake is not None:
            lake.release()
        stop_between_batches([query], _STOP_WAIT_S)
        exc = query.exception()
        if exc is not None:
            raise exc
        log.info("customer state stopped")


def run_lake(settings: Settings, once: bool, follow_stdin: bool) -> None:
    """The lake part: `customer-tables`, `lake` and `customers`, until SIGTERM/SIGINT (or,
    with `once`, until all are idle). `follow_stdin`: run beside a hot part that closes this
    process's stdin when it is done (or gone): then stop, or with `once` drain from then on."""
    check_checkpoints(settings, LAKE_PART)
    spark = stream_session(settings, "segstream-lake", settings.spark_lake_cores)
    hot_done = threading.Event()
    if follow_stdin:

        def watch_stdin() -> None:
            # The file descriptor, not sys.stdin: a thread blocked in a buffered read holds
            # its lock, and the interpreter aborts on it at exit (status -6, not the error's).
            while os.read(sys.stdin.fileno(), 4096):
                pass
            hot_done.set()

        threading.Thread(target=watch_stdin, daemon=True).start()
    else:
        hot_done.set()
    try:
        with stop_on_signals("stopping after the current batches") as stop:

            def stopping() -> bool:
                return stop.is_set() or (follow_stdin and hot_done.is_set() and not once)

            # A stop asked for while the part is still starting (niced on a busy machine,
            # that takes a minute) is honoured between the steps: each can take seconds.
            for name in dict.fromkeys((*customer_tables.TABLES, *lake_writer.TABLES)):
                if stopping():
                    break
                writes.ensure(spark, settings, name)
            # Each query in a scheduler pool of its own, which it inherits from this thread:
            # a batch of `customer-tables` gets a task slot as soon as one is free, not when
            # the `lake` query's batch is done.
            context = spark.sparkContext
            queries: list[StreamingQuery] = []
            recorders: list[tuple[StreamingQuery, MetricsRecorder]] = []
            for pool, start in (
                (customer_tables.QUERY, start_customer_tables),
                (lake_writer.QUERY, start_lake),
            ):
                if stopping():
                    break
                context.setLocalProperty(_POOL, pool)
                query, recorder = start(spark, settings)
                queries.append(query)
                recorders.append((query, recorder))
            if not stopping():
                context.setLocalProperty(_POOL, customers.QUERY)
                queries.append(start_customers(spark, settings))
                queries.append(start_control_quarantine(spark, settings))
                log.info("lake started (%s)", "drain and exit" if once else "continuous")
            context.setLocalProperty(_POOL, None)  # type: ignore[arg-type]
            flushed = time.monotonic()
            idle = 0
            while not stopping():
                time.sleep(0.5)
                if any(not q.isActive or q.exception() for q in queries):
                    break
                if time.monotonic() - flushed >= _FLUSH_S:
                    for query, recorder in recorders:
                        recorder.flush(spark, query.recentProgress)
                    flushed = time.monotonic()
                if once and hot_done.is_set():
                    idle = idle + 1 if caught_up(queries, settings) else 0
                    if idle >= _IDLE_CHECKS:
                        break
            stop_between_batches([q for q in queries if q.isActive], _LAKE_STOP_WAIT_S)
            for query, recorder in recorders:
                recorder.flush(spark, query.recentProgress)
            for q in queries:
                exc = q.exception()
                if exc is not None:
                    raise exc
            log.info("lake stopped")
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
    p.add_argument(
        "--part",
        choices=(HOT_PART, LAKE_PART),
        help="run one part only: `hot` (the customer state and the feed) or `lake` (the "
        "Delta tables); under spark-submit, submit both. Default: the whole stream, the lake "
        "part in a child process",
    )
    # Set by the whole stream for its lake part (see `run_lake`).
    p.add_argument("--follow-stdin", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """`spark-submit streaming/job.py [--once] [settings options]`."""
    args = parser().parse_args(argv)
    log_config.configure(args.log_level)
    try:
        settings = options.settings_from(args)
        if args.part == LAKE_PART:
            run_lake(settings, args.once, args.follow_stdin)
        elif args.part == HOT_PART:
            check_checkpoints(settings, HOT_PART)
            spark = stream_session(settings, "segstream-stream", settings.spark_hot_cores)
            try:
                run_hot(spark, settings, args.once, None)
            finally:
                spark.stop()
        elif under_spark_submit():
            raise SegstreamError(
                "under spark-submit, submit each part of the stream: --part hot and --part lake"
            )
        else:
            run(settings, once=args.once)
    except SegstreamError as exc:
        print(f"streaming/job.py: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
