"""The hot path, purchase -> segment feed, and the lake behind it, against the floor of a bare
stateful query measured in the same run.

    .venv/bin/python -m bench.hot_path [--customers 100000] [--big-customers 1000000]
        [--rates 1000 5000] [--duration 40] [--warmup 120] [--backlog 200000]
        [--max-offsets 100000] [--keep]

One embedded broker; the stream runs as its own processes (`segstream stream`: the hot part,
and the lake part as its child) with a fixed model promoted, as in production; the producer
(librdkafka, this process) shares the two cores with them. Each rate also reports the
cores each of those used while it was produced (Linux /proc CPU times).

0. Floor: a bare stateful query in this process (Kafka -> parse JSON -> dropDuplicates ->
   Kafka), trigger 0, after the same warm-up as the stream's (below), at each rate:
   per-event latency (output record's Kafka time - `produced_at`) and per-batch duration
   (its progress). The stream is not running.
   Customer floor: the same with the least customer state after it (a count per customer,
   update mode), after half that warm-up: the floor of any design that keeps the customer
   state in the stream, as the hot part does.
   Lake floor: the least a lake can do, in this process too (Kafka -> parse JSON into the
   event schema -> one Delta append per batch, foreachBatch, the lake part's trigger), after
   half that warm-up, at each rate: per-event latency to the end of its append, the batch
   median, the cores its JVM used and how long it took to hold every event after the rate.
   Its cores against the cores the stream leaves to the lake part (below) say whether any
   lake that appends the events to Delta can keep up on this machine.
1. Preload: one purchase for each of --customers customers, as fast as the producer goes;
   the stream drains them.
   Warm-up: --warmup s at the first rate, not measured, until the customer state has
   counted every event and the lake has appended all of them to `events`. A stream runs for
   hours; in its first minute or two the JVM is still compiling the query's code (the just-in-time
   compiler's threads took ~0.5 core during a rate measured 50 s after the stream's start),
   which made the feed slower than afterwards (p50 3.7 against 1.3 s at 5,000 events/s).
   0 measures a fresh stream.
2. Each rate for --duration s (paced): latency per event to the feed, exact: an event is on
   the feed when the first `customer-scores` record of its customer that counts it (its
   `n_events`) is published; p50 / p95 / max over every event of the rate. Latency to
   `customer_segments`: the lake's per-batch p50 / p95 (`stream_metrics`, query `lake`),
   median and max over the batches from the rate's start until `events` holds every event
   (how many were not yet there when the rate ended, and how long that took, are printed).
   The cores left for the lake part are the machine's minus the producer's, the broker's
   and the hot part's. The customer state's batch durations come from the stream's log
   (`customer-state batch ...`).
3. Backlog: the stream stopped (SIGTERM), --backlog events published, the stream started;
   events/s until the customer state has counted them all (process start included, and
   from its first batch's end).
4. Restart: the customer state's first batch after that restart against its steady median
   (two 30 s loads at the first rate, the second after the first is counted).
5. State size per customer: the state store on disk / customers, and its memory.
6. --big-customers (0 to skip): preloaded up to that many customers, the first rate again:
   the customer state's batch cost against step 2's.
Targets (issue): feed p50 <= 2 s, p95 <= 5 s at 5,000 events/s and p50 <= 3x the floor;
customer_segments p50 <= 5 s, p95 <= 10 s; >= 20,000 events/s sustained; batch cost at 1M
customers within 1.5x of 100k; first batch after a restart <= 3x a steady one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from bench.harness import (
    LoadSampler,
    bench_settings,
    cpu_seconds,
    descendant_running,
    embedded_broker,
    markdown_table,
    promote_fixed_model,
    start_stream,
    stop_stream,
    tail,
    temp_root,
    verdict,
)
from producers.pacing import Pacer
from producers.publisher import Publisher
from segstream.config import Settings
from segstream.contracts import tables
from segstream.contracts.events import EVENT_SCHEMA, Event
from segstream.contracts.stream_records import STATE_QUERY
from segstream.lake import reads
from segstream.runtime import kafka_broker
from segstream.spark_session import get_spark

EVENT_START = datetime(2026, 1, 1, tzinfo=UTC)
_STATE_LINE = re.compile(
    r"^(\d\d:\d\d:\d\d) .*customer-state batch (\d+) \(run [0-9a-f-]+\): (\d+) rows, ([\d.]+) s, (\d+) customers "
    r"in state, (\d+) state bytes"
)


@dataclass
class Load:
    """What this process has published: per customer, the produced_at of each event."""

    produced: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    sent: int = 0

    def events(self, customers: range, count: int, prefix: str) -> list[Event]:
        out = []
        span = len(customers)
        for i in range(count):
            c = customers[i % span]
            out.append(
                Event(
                    event_id=f"{prefix}-{i}",
                    event_type="purchase",
                    customer_id=f"c{c:07d}",
                    order_id=f"{prefix}-o{i}",
                    event_time=EVENT_START + timedelta(seconds=self.sent + i),
                    amount=Decimal(10 + (c * 7 + i) % 90),
                )
            )
        return out

    def publish(self, settings: Settings, events: list[Event], rate: float | None) -> float:
        """Sends `events` (paced at `rate`/s, else as fast as possible); the achieved rate."""
        publisher = Publisher(settings)
        pacer = Pacer(rate)
        try:
            for e in events:
                pacer.wait()
                now = datetime.now(UTC)
                publisher.send_event(e, now)
                self.produced[e.customer_id].append(now.timestamp())
            achieved = pacer.achieved_rate()
            publisher.flush()
        finally:
            publisher.close()
        self.sent += len(events)
        return achieved


def _consumer(settings: Settings, topic: str, since: float) -> tuple[KafkaConsumer, dict]:  # type: ignore[type-arg]
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        **settings.kafka_client_options(),
    )
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    consumer.assign(parts)
    starts = consumer.offsets_for_times({tp: int(since * 1000) for tp in parts})
    ends = consumer.end_offsets(parts)
    for tp in parts:
        found = starts.get(tp)
        consumer.seek(tp, found.offset if found is not None else ends[tp])
    return consumer, ends


def read_since(
    settings: Settings, topic: str, since: float
) -> list[tuple[float, bytes | None, bytes]]:
    """(Kafka time in s, key, value) of every record of `topic` published since `since`."""
    consumer, ends = _consumer(settings, topic, since)
    out: list[tuple[float, bytes | None, bytes]] = []
    try:
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for records in consumer.poll(timeout_ms=1000, max_records=50_000).values():
                out += [(r.timestamp / 1000, r.key, r.value) for r in records]
    finally:
        consumer.close()
    return out


class ScoresLog:
    """Every `customer-scores` record, read incrementally from the beginning: per customer
    the (n_events, Kafka time) of each record."""

    def __init__(self, settings: Settings) -> None:
        self._consumer = KafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            group_id=None,
            **settings.kafka_client_options(),
        )
        topic = settings.topic_customer_scores
        parts = [TopicPartition(topic, p) for p in self._consumer.partitions_for_topic(topic) or ()]
        self._consumer.assign(parts)
        self._consumer.seek_to_beginning(*parts)
        self._parts = parts
        self.emitted: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self.counted: dict[str, int] = {}

    def read(self) -> None:
        ends = self._consumer.end_offsets(self._parts)
        while any(self._consumer.position(tp) < end for tp, end in ends.items()):
            for records in self._consumer.poll(timeout_ms=1000, max_records=50_000).values():
                for r in records:
                    body = json.loads(r.value)
                    n = int(body["n_events"])
                    self.emitted[body["customer_id"]].append((n, r.timestamp / 1000))
                    self.counted[body["customer_id"]] = max(
                        self.counted.get(body["customer_id"], 0), n
                    )

    def close(self) -> None:
        self._consumer.close()


def feed_latencies(scores: ScoresLog, load: Load, since: float, until: float) -> list[float]:
    """Per event produced in [since, until): seconds until its customer's first scores
    record counting it was published."""
    scores.read()
    out = []
    for customer, produced in load.produced.items():
        marks = sorted(scores.emitted.get(customer, ()))
        for k, at in enumerate(produced, start=1):
            if not since <= at < until:
                continue
            on_feed = next((ts for n, ts in marks if n >= k), None)
            if on_feed is None:
                raise RuntimeError(f"event {k} of {customer} never reached the feed")
            out.append(on_feed - at)
    return out


def wait_counted(scores: ScoresLog, load: Load, proc: Any, log: Path, timeout: float) -> float:
    """Waits until the customer state has published a record counting every event sent;
    returns when (epoch s) the last of those records was published."""
    deadline = time.monotonic() + timeout
    while True:
        scores.read()
        missing = [c for c, p in load.produced.items() if scores.counted.get(c, 0) < len(p)]
        if not missing:
            return max(
                next(ts for n, ts in sorted(scores.emitted[c]) if n >= len(p))
                for c, p in load.produced.items()
            )
        if proc.poll() is not None:
            raise RuntimeError(f"the stream exited:\n{tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the stream did not catch up in {timeout:.0f} s ({len(missing)} customers "
                f"behind):\n{tail(log)}"
            )
        time.sleep(1.0)


def state_batches(log: Path) -> list[tuple[str, int, int, float, int, int]]:
    """(clock, batch id, rows, seconds, customers, memory bytes) per customer-state batch."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        m = _STATE_LINE.match(line)
        if m:
            out.append((m[1], int(m[2]), int(m[3]), float(m[4]), int(m[5]), int(m[6])))
    return out


def lake_latency(
    spark: SparkSession, settings: Settings, since: float, until: float
) -> tuple[float | None, float | None]:
    """Median p50 and max p95 of the lake's batches started since `since`; None when it
    has written none yet (its first batch can outlast a rate on a busy machine)."""
    path = settings.table_path(tables.STREAM_METRICS)
    if not reads.is_table(path):
        return None, None
    rows = (
        spark.read.format("delta")
        .load(str(path))
        .where((F.col("query") == "lake") & F.col("latency_p50_s").isNotNull())
        .where(F.col("started_at") >= datetime.fromtimestamp(since, UTC))
        .select("latency_p50_s", "latency_p95_s")
        .collect()
    )
    if not rows:
        return None, None
    return statistics.median(r[0] for r in rows), max(r[1] for r in rows)


def cpu_use(settings: Settings, stream: Any) -> tuple[float, float, float, float]:
    """CPU seconds used so far by this process (the producer; its idle Spark JVM aside), the
    broker, the stream's hot part and its lake part (each with its JVM)."""
    broker = kafka_broker.status(settings).pid
    lake = descendant_running(stream.pid, "--follow-stdin")
    lake_s = cpu_seconds(lake) if lake else 0.0
    return (
        cpu_seconds(os.getpid(), tree=False),
        cpu_seconds(broker) if broker else 0.0,
        cpu_seconds(stream.pid) - lake_s,
        lake_s,
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def create_topics(settings: Settings, *names: str) -> None:
    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, **settings.kafka_client_options()
    )
    try:
        admin.create_topics([NewTopic(t, settings.topic_partitions, 1) for t in names])
    finally:
        admin.close()


def delta_count(spark: SparkSession, path: Path) -> int:
    return spark.read.format("delta").load(str(path)).count() if reads.is_table(path) else 0


def wait_appended(
    spark: SparkSession,
    path: Path,
    load: Load,
    timeout: float,
    poll_s: float,
    proc: Any = None,
    log: Path | None = None,
) -> float:
    """Waits until the Delta table at `path` holds every event `load` sent; returns how long
    that took. `proc` (with its `log`): the stream that writes it, which must not exit."""
    start = time.monotonic()
    while (behind := load.sent - delta_count(spark, path)) > 0:
        said = "" if log is None else f":\n{tail(log)}"
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the stream exited{said}")
        if time.monotonic() - start > timeout:
            raise RuntimeError(
                f"{path.name} did not catch up in {timeout:.0f} s ({behind:,} events behind){said}"
            )
        time.sleep(poll_s)
    return time.monotonic() - start


def bare_floor(
    spark: SparkSession,
    settings: Settings,
    rates: list[int],
    duration: float,
    warmup: float,
    root: Path,
    per_customer: bool = False,
) -> dict[int, tuple[float, float, float]]:
    """Per rate: (batch median s, latency p50 s, latency p95 s) of Kafka -> dedupe -> Kafka,
    after `warmup` s of unmeasured load at the first rate (as the stream gets).

    `per_customer` adds the least customer state there is: a count per customer after the
    de-duplication (a second shuffle and a second state store, update mode), one record per
    touched customer and batch; its latency is taken from the customer's newest
    `produced_at` (at these rates and 10 customers per event/s a customer rarely has two
    events in one batch)."""
    name = "customer-floor" if per_customer else "floor"
    source, sink = f"{name}-in", f"{name}-out"
    create_topics(settings, source, sink)
    schema = "event_id STRING, customer_id STRING, produced_at STRING"
    events = (
        spark.readStream.format("kafka")
        .options(**settings.spark_kafka_options())
        .option("subscribe", source)
        .option("startingOffsets", "earliest")
        .load()
        .select(F.from_json(F.col("value").cast("string"), schema).alias("e"))
        .select("e.*")
        .dropDuplicates(["event_id"])
    )
    if per_customer:
        events = events.groupBy("customer_id").agg(
            F.count("*").alias("n_events"), F.max("produced_at").alias("produced_at")
        )
    query = (
        events.select(F.col("customer_id").alias("key"), F.to_json(F.struct("*")).alias("value"))
        .writeStream.format("kafka")
        .outputMode("update" if per_customer else "append")
        .options(**settings.spark_kafka_options())
        .option("topic", sink)
        .option("checkpointLocation", str(root / f"{name}-checkpoint"))
        .trigger(processingTime="0 seconds")
        .start()
    )
    floor_settings = settings.model_copy(update={"topic_transactions": source})
    out = {}
    load = Load()
    try:
        if warmup:
            warm = load.events(range(rates[0] * 10), int(rates[0] * warmup), f"{name}warm")
            load.publish(floor_settings, warm, rates[0])
        for rate in rates:
            since = time.time()
            load.publish(
                floor_settings,
                load.events(range(rate * 10), int(rate * duration), f"{name}{rate}"),
                rate,
            )
            until = time.time()
            time.sleep(5)
            lat = []
            for ts, _, value in read_since(settings, sink, since):
                produced = datetime.fromisoformat(json.loads(value)["produced_at"]).timestamp()
                if since <= produced < until:
                    lat.append(ts - produced)
            batches = [
                p.durationMs.get("triggerExecution", 0) / 1000
                for p in query.recentProgress
                if p.numInputRows
                and since
                <= datetime.fromisoformat(p.timestamp.replace("Z", "+00:00")).timestamp()
                <= until
            ]
            out[rate] = (statistics.median(batches), pct(lat, 50), pct(lat, 95))
            print(
                f"  {name} at {rate:,}/s: batch {out[rate][0]:.2f} s, p50 {out[rate][1]:.2f} s, p95 {out[rate][2]:.2f} s",
                flush=True,
            )
    finally:
        query.stop()
    return out


def lake_floor(
    spark: SparkSession,
    settings: Settings,
    rates: list[int],
    duration: float,
    warmup: float,
    root: Path,
) -> dict[int, tuple[float, float, float, float, float]]:
    """Per rate: (batch median s, latency p50 s, latency p95 s, cores, drain s) of the least
    a lake can do: Kafka -> parse JSON into the event schema -> one Delta append per batch
    (foreachBatch, as the lake part), at the lake part's trigger interval, in this process's
    JVM. Latency per event: the end of its batch's append - `produced_at`; cores: this
    process's JVM while the rate is produced; drain: from the rate's end until the table
    holds every event. The stream is not running."""
    source, path = "lake-floor-in", root / "lake-floor"
    create_topics(settings, source)
    appended: dict[int, float] = {}

    def append(rows: Any, batch_id: int) -> None:
        (
            rows.withColumn("batch_id", F.lit(batch_id))
            .write.format("delta")
            .mode("append")
            .option("txnAppId", "lake-floor")
            .option("txnVersion", batch_id)
            .save(str(path))
        )
        appended[batch_id] = time.time()

    query = (
        spark.readStream.format("kafka")
        .options(**settings.spark_kafka_options())
        .option("subscribe", source)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", settings.max_offsets_per_trigger)
        .load()
        .select(F.from_json(F.col("value").cast("string"), EVENT_SCHEMA).alias("e"))
        .select("e.*")
        .writeStream.foreachBatch(append)
        .option("checkpointLocation", str(root / "lake-floor-checkpoint"))
        .trigger(processingTime=f"{settings.trigger_interval_s} seconds")
        .start()
    )
    jvm = spark.sparkContext._gateway.proc.pid  # type: ignore[union-attr]
    floor_settings = settings.model_copy(update={"topic_transactions": source})
    out = {}
    load = Load()

    try:
        if warmup:
            load.publish(
                floor_settings,
                load.events(range(rates[0] * 10), int(rates[0] * warmup), "lakewarm"),
                rates[0],
            )
            wait_appended(spark, path, load, 900, 1.0)
        for rate in rates:
            since, cpu0 = time.time(), cpu_seconds(jvm)
            load.publish(
                floor_settings,
                load.events(range(rate * 10), int(rate * duration), f"lake{rate}"),
                rate,
            )
            until = time.time()
            cores = (cpu_seconds(jvm) - cpu0) / (until - since)
            drained = wait_appended(spark, path, load, 900, 1.0)
            rows = (
                spark.read.format("delta")
                .load(str(path))
                .where(F.col("event_id").startswith(f"lake{rate}-"))
                .select("batch_id", "produced_at")
                .collect()
            )
            lat = [
                appended[r[0]] - datetime.fromisoformat(r[1]).timestamp()
                for r in rows
                if r[0] in appended
            ]
            batches = {r[0] for r in rows}
            durations = [
                p.durationMs.get("triggerExecution", 0) / 1000
                for p in query.recentProgress
                if p.numInputRows and p.batchId in batches
            ]
            out[rate] = (
                statistics.median(durations) if durations else float("nan"),
                pct(lat, 50),
                pct(lat, 95),
                cores,
                drained,
            )
            print(
                f"  lake floor at {rate:,}/s: batch {out[rate][0]:.2f} s, p50 {out[rate][1]:.2f} s, "
                f"p95 {out[rate][2]:.2f} s, {cores:.2f} cores, drained {drained:.1f} s after",
                flush=True,
            )
    finally:
        query.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--big-customers", type=int, default=1_000_000, help="0 to skip")
    parser.add_argument("--rates", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument(
        "--warmup",
        type=float,
        default=120.0,
        help="seconds of unmeasured load at the first rate before the rates (0: none)",
    )
    parser.add_argument("--backlog", type=int, default=200_000)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument(
        "--lake-interval",
        type=float,
        default=None,
        help="trigger interval of the lake query (default: SEGSTREAM_TRIGGER_INTERVAL_S)",
    )
    parser.add_argument(
        "--max-offsets",
        type=int,
        default=100_000,
        help="maxOffsetsPerTrigger of every query (SEGSTREAM_MAX_OFFSETS_PER_TRIGGER)",
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    with temp_root("segstream-bench-hot-", args.keep) as root, LoadSampler() as load_avg:
        lake_interval = (
            {} if args.lake_interval is None else {"trigger_interval_s": args.lake_interval}
        )
        settings = bench_settings(root, max_offsets_per_trigger=args.max_offsets, **lake_interval)
        with embedded_broker(settings):
            spark = get_spark(settings, "segstream-bench-hot-path")
            print("(0) floor: bare Kafka -> dropDuplicates -> Kafka", flush=True)
            floor = bare_floor(spark, settings, args.rates, args.duration, args.warmup, root)
            print(
                "(0) customer floor: ... -> dropDuplicates -> count per customer -> Kafka",
                flush=True,
            )
            customer_floor = bare_floor(
                spark, settings, args.rates, args.duration, args.warmup / 2, root, True
            )
            print("(0) lake floor: bare Kafka -> parse -> Delta append", flush=True)
            lake_base = lake_floor(
                spark, settings, args.rates, args.duration, args.warmup / 2, root
            )
            promote_fixed_model(spark, settings)
            load = Load()
            scores = ScoresLog(settings)
            events = settings.table_path(tables.EVENTS)
            log = root / "stream.log"
            proc = start_stream(settings, False, log)
            try:
                print(f"(1) preload: {args.customers:,} customers", flush=True)
                load.publish(
                    settings, load.events(range(args.customers), args.customers, "pre"), None
                )
                wait_counted(scores, load, proc, log, args.timeout)
                if args.warmup:
                    print(f"(1) warm-up: {args.warmup:.0f} s at {args.rates[0]:,}/s", flush=True)
                    load.publish(
                        settings,
                        load.events(
                            range(args.customers), int(args.rates[0] * args.warmup), "warm"
                        ),
                        args.rates[0],
                    )
                    wait_counted(scores, load, proc, log, args.timeout)
                    wait_appended(spark, events, load, args.timeout, 2.0, proc, log)
                rows = []
                steady: dict[int, list[float]] = {}
                for rate in args.rates:
                    since, t0 = time.time(), time.monotonic()
                    cpu0 = cpu_use(settings, proc)
                    load.publish(
                        settings,
                        load.events(range(args.customers), int(rate * args.duration), f"r{rate}"),
                        rate,
                    )
                    until = time.time()
                    cores = [
                        (b - a) / (until - since)
                        for a, b in zip(cpu0, cpu_use(settings, proc), strict=True)
                    ]
                    behind = load.sent - delta_count(spark, events)
                    wait_counted(scores, load, proc, log, args.timeout)
                    lake_drain = wait_appended(spark, events, load, args.timeout, 2.0, proc, log)
                    lat = feed_latencies(scores, load, since, until)
                    # The lake part writes its metrics every 10 s, behind its batches.
                    time.sleep(12)
                    deadline = time.monotonic() + 60
                    while (lake := lake_latency(spark, settings, since, until))[0] is None:
                        if time.monotonic() > deadline:
                            break
                        time.sleep(2.0)
                    lake50, lake95 = lake
                    durations = [
                        b[3] for b in state_batches(log) if since <= _clock(b[0], since) <= until
                    ]
                    steady[rate] = durations
                    rows.append(
                        (
                            rate,
                            len(lat),
                            pct(lat, 50),
                            pct(lat, 95),
                            max(lat),
                            floor[rate][0],
                            floor[rate][1],
                            lake50,
                            lake95,
                            statistics.median(durations) if durations else None,
                            load_avg.mean(t0, time.monotonic()),
                            cores,
                            behind,
                            lake_drain,
                        )
                    )
                    print(
                        f"(2) {rate:,}/s: feed p50 {pct(lat, 50):.2f} s p95 {pct(lat, 95):.2f} s",
                        flush=True,
                    )
                print(f"(3) backlog: {args.backlog:,} events", flush=True)
                stop_stream(proc)
                before = len(state_batches(log))
                load.publish(
                    settings, load.events(range(args.customers), args.backlog, "backlog"), None
                )
                started = time.time()
                proc = start_stream(settings, False, log)
                done = wait_counted(scores, load, proc, log, args.timeout)
                after = state_batches(log)[before:]
                first = after[0] if after else None
                backlog_rate = args.backlog / (done - started)
                first_end = _clock(first[0], started) if first else started
                rate_after_first = (args.backlog - (first[2] if first else 0)) / max(
                    1e-3, done - first_end
                )
                time.sleep(5)
                # (4) restart, on a steady load: the first batch against the next ones.
                stop_stream(proc)
                before = len(state_batches(log))
                proc = start_stream(settings, False, log)
                since = time.time()
                # Two loads: the restarted JVM starts for longer than one lasts, so the first
                # is all in its first batch; the second gives the steady batches to compare.
                for part in ("restart", "after-restart"):
                    load.publish(
                        settings,
                        load.events(range(args.customers), int(args.rates[0] * 30), part),
                        args.rates[0],
                    )
                    wait_counted(scores, load, proc, log, args.timeout)
                time.sleep(2)  # a batch's log line follows its records
                restarted = state_batches(log)[before:]
                first_restart = restarted[0][3] if restarted else None
                steady_restart = (
                    statistics.median(b[3] for b in restarted[1:]) if len(restarted) > 1 else None
                )
                state_dir = settings.checkpoint_path(STATE_QUERY) / "state"
                state_disk = sum(p.stat().st_size for p in state_dir.rglob("*") if p.is_file())
                last = state_batches(log)[-1]
                customers = len(load.produced)
                big = None
                if args.big_customers:
                    print(f"(6) {args.big_customers:,} customers", flush=True)
                    extra = range(args.customers, args.big_customers)
                    load.publish(settings, load.events(extra, len(extra), "big"), None)
                    wait_counted(scores, load, proc, log, args.timeout * 2)
                    rate = args.rates[0]
                    since = time.time()
                    load.publish(
                        settings,
                        load.events(
                            range(args.big_customers), int(rate * args.duration), "bigrate"
                        ),
                        rate,
                    )
                    until = time.time()
                    wait_counted(scores, load, proc, log, args.timeout)
                    durations = [
                        b[3] for b in state_batches(log) if since <= _clock(b[0], since) <= until
                    ]
                    big = statistics.median(durations) if durations else None
            finally:
                stop_stream(proc)
                scores.close()
            spark.stop()

    print()
    print(
        markdown_table(
            [
                "events/s",
                "events",
                "feed p50 s",
                "feed p95 s",
                "feed max s",
                "floor batch s",
                "floor p50 s",
                "p50 / floor p50",
                "customer floor p50 s",
                "p50 / customer floor p50",
                "customer_segments p50 s (batch median)",
                "p95 s (batch max)",
                "state batch median s",
                "load avg",
                "cores used: producer / broker / hot part / lake part",
            ],
            [
                (
                    r[0],
                    r[1],
                    f"{r[2]:.2f}",
                    f"{r[3]:.2f}",
                    f"{r[4]:.2f}",
                    f"{r[5]:.2f}",
                    f"{r[6]:.2f}",
                    f"{r[2] / r[6]:.1f}x",
                    f"{customer_floor[r[0]][1]:.2f}",
                    f"{r[2] / customer_floor[r[0]][1]:.1f}x",
                    "-" if r[7] is None else f"{r[7]:.2f}",
                    "-" if r[8] is None else f"{r[8]:.2f}",
                    "-" if r[9] is None else f"{r[9]:.2f}",
                    f"{r[10]:.2f}",
                    " / ".join(f"{c:.2f}" for c in r[11]),
                )
                for r in rows
            ],
        )
    )
    print()
    machine = os.cpu_count() or 1
    print(
        markdown_table(
            [
                "events/s",
                "lake floor batch s",
                "lake floor p50 s",
                "lake floor p95 s",
                "lake floor cores",
                "lake floor drained s after the rate",
                "customer_segments p50 s (batch median)",
                "events not in Delta at the rate's end",
                "lake drained s after the rate",
                "cores left for the lake part",
                "lake part cores",
            ],
            [
                (
                    r[0],
                    *(f"{v:.2f}" for v in lake_base[r[0]][:4]),
                    f"{lake_base[r[0]][4]:.1f}",
                    "-" if r[7] is None else f"{r[7]:.2f}",
                    r[12],
                    f"{r[13]:.1f}",
                    f"{machine - sum(r[11][:3]):.2f}",
                    f"{r[11][3]:.2f}",
                )
                for r in rows
            ],
        )
    )
    top = rows[-1]
    print(
        f"feed p50 at {top[0]:,}/s: {top[2]:.2f} s vs 2 s {verdict(top[2], 2.0)}; p95 {top[3]:.2f} s vs 5 s {verdict(top[3], 5.0)}; p50 / floor {top[2] / top[6]:.1f}x vs 3x {verdict(top[2] / top[6], 3.0)}"
    )
    print(
        f"backlog: {backlog_rate:,.0f} events/s with the start, {rate_after_first:,.0f} after the first batch, vs 20,000 {verdict(rate_after_first, 20_000, smaller_is_better=False)}"
    )
    print(f"customer-state batches after the restart (s): {[b[3] for b in restarted]}")
    if first_restart is not None and steady_restart:
        print(
            f"first customer-state batch after a restart: {first_restart:.2f} s vs steady {steady_restart:.2f} s ({first_restart / steady_restart:.1f}x, target 3x {verdict(first_restart / steady_restart, 3.0)})"
        )
    print(
        f"state: {customers:,} customers ({last[4]:,} state rows: customers and the event ids "
        f"kept for de-duplication), {state_disk:,} bytes on disk (every retained version), "
        f"{state_disk / customers:.0f} per customer; {last[5]:,} bytes in memory"
    )
    if big is not None and steady.get(args.rates[0]):
        base = statistics.median(steady[args.rates[0]])
        print(
            f"state batch at {args.big_customers:,} customers: {big:.2f} s vs {base:.2f} s at {args.customers:,} ({big / base:.2f}x, target 1.5x {verdict(big / base, 1.5)})"
        )


def _clock(hms: str, near: float) -> float:
    """The epoch time of a log line's HH:MM:SS (UTC) nearest to `near`."""
    day = datetime.fromtimestamp(near, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    h, m, s = (int(x) for x in hms.split(":"))
    at = (day + timedelta(hours=h, minutes=m, seconds=s)).timestamp()
    return min((at - 86400, at, at + 86400), key=lambda t: abs(t - near))


if __name__ == "__main__":
    main()
