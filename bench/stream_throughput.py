"""Throughput and end-to-end latency of the streaming job (`segstream stream`), run as its own
process against the embedded broker, the way it runs in production.

    .venv/bin/python -m bench.stream_throughput [--events 300000] [--customers 50000]
        [--max-offsets 50000] [--rates 1000 2500 5000] [--duration 60] [--warmup 15]
        [--no-model] [--skip-backlog] [--skip-latency] [--keep]

(a) Backlog: N events are published to a fresh topic first, then `segstream stream --once`
    drains them with SEGSTREAM_MAX_OFFSETS_PER_TRIGGER; `stream_metrics` gives each
    micro-batch's rows and duration. Reported: rows/s per batch, overall with and without the
    first (warm-up) batch, and the whole process. Baseline, same run, same topic: a bare Spark
    batch read of the topic with the stream's parse + dedupe key (no writes, `noop` sink).
(b) Latency: a continuous `segstream stream` (trigger interval from the settings) while this
    process publishes at each fixed rate for --duration seconds (producers.pacing.Pacer;
    `produced_at` is stamped at send). Between rates the stream drains to zero lag. Latency
    is recomputed exactly per event: a batch's commit time is min(produced_at) + its
    latency_max_s (both from the lake), so latency = commit - produced_at for every event,
    and p50/p95/max are taken over all events of the rate. The per-batch view (median of
    the batches' p50, max of their p95) is shown next to it. Baseline: the lowest rate.

By default a fixed 4-segment model is promoted first, so each batch also re-scores the
customers it touched (customer_segments, segment_history), as in production; --no-model
measures the RFM path alone (a lake without a model). Targets (issue): >= 20,000 events/s
sustained; p50 <= 2 s and p95 <= 5 s at 5,000 events/s.

Run time: about 4 min for (b) plus the time to drain each backlog; a stream slower than the
input rate makes the drains (and so the run) longer: --duration/--events shorten it, and
--timeout bounds each wait for the stream.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from bench.harness import (
    LoadSampler,
    bench_settings,
    embedded_broker,
    markdown_table,
    promote_fixed_model,
    temp_root,
    verdict,
)
from producers.generator import GeneratorOptions, generate
from producers.pacing import Pacer
from producers.publisher import Publisher
from segstream.config import Settings
from segstream.contracts import tables
from segstream.runtime import topics
from segstream.runtime.processes import die_with_parent
from streaming import transforms

TARGET_THROUGHPUT = 20_000.0
TARGET_P50_S = 2.0
TARGET_P95_S = 5.0
TARGET_RATE = 5_000
EVENT_START = datetime(2026, 1, 1, tzinfo=UTC)
_STREAM_STOP_S = 180.0


def stream_cmd(once: bool) -> list[str]:
    cmd = [sys.executable, "-m", "cli.main", "stream", "--log-level", "INFO"]
    return [*cmd, "--once"] if once else cmd


def start_stream(settings: Settings, once: bool, log_file: Path) -> subprocess.Popen[bytes]:
    with log_file.open("ab") as out:
        return subprocess.Popen(
            stream_cmd(once),
            env=settings.to_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
            start_new_session=True,
        )


def stop_stream(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM (the job stops between batches and flushes its metrics); SIGKILL to the
    process group if it does not exit in time."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(_STREAM_STOP_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    return proc.returncode


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def committed_offset_total(checkpoint: Path, topic: str) -> int:
    """Sum over partitions of the end offsets of the newest committed batch (0 if none)."""
    commits = checkpoint / "commits"
    done = sorted(
        (int(p.name) for p in commits.iterdir() if p.name.isdigit()) if commits.is_dir() else []
    )
    if not done:
        return 0
    for line in reversed((checkpoint / "offsets" / str(done[-1])).read_text().splitlines()):
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and topic in value:
            return sum(int(v) for v in value[topic].values())
    raise RuntimeError(f"no offsets of {topic} in {checkpoint}/offsets/{done[-1]}")


def wait_caught_up(
    settings: Settings, produced: int, proc: subprocess.Popen[bytes], timeout_s: float
) -> float:
    """Waits until the stream has committed `produced` records; returns the seconds waited."""
    checkpoint = settings.checkpoint_path("transactions")
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError(f"the stream exited with code {proc.returncode}")
        if committed_offset_total(checkpoint, settings.topic_transactions) >= produced:
            return time.monotonic() - started
        time.sleep(0.2)
    raise TimeoutError(f"the stream did not catch up with {produced:,} events in {timeout_s} s")


def events_of(prefix: str, customers: int, count: int, seed: int) -> list[Any]:
    options = GeneratorOptions(
        customers=customers, seed=seed, start=EVENT_START, mean_gap_s=1.0, id_prefix=prefix
    )
    return list(itertools.islice(generate(options), count))


def publish(settings: Settings, events: list[Any], rate: float | None) -> tuple[float, float]:
    """Sends `events` (paced at `rate`/s, or as fast as possible); returns (achieved send
    rate, seconds until every message was acknowledged)."""
    publisher = Publisher(settings)
    pacer = Pacer(rate)
    started = time.monotonic()
    try:
        for event in events:
            pacer.wait()
            publisher.send_event(event, datetime.now(UTC))
        achieved = pacer.achieved_rate()
        publisher.flush()
    finally:
        publisher.close()
    return achieved, time.monotonic() - started


def metrics_rows(spark: SparkSession, settings: Settings) -> list[dict[str, Any]]:
    path = str(settings.table_path(tables.STREAM_METRICS))
    frame = (
        spark.read.format("delta")
        .load(path)
        .where(F.col("query") == "transactions")
        .select(
            "batch_id",
            (F.unix_micros("started_at") / 1e6).alias("start_s"),
            "input_rows",
            "valid_rows",
            "customers_touched",
            "customers_rescored",
            "batch_duration_s",
            "rows_per_s",
            "latency_p50_s",
            "latency_p95_s",
            "latency_max_s",
        )
        .orderBy("batch_id")
    )
    return [r.asDict() for r in frame.collect()]


@dataclass(frozen=True)
class BacklogResult:
    events: int
    publish_s: float
    process_s: float
    sustained: float
    with_warmup: float
    body_only: float
    baseline: float
    raw_read: float
    load: float


def bare_rates(spark: SparkSession, settings: Settings, events: int) -> tuple[float, float]:
    """Rows/s of a batch read of the topic into a noop sink: (raw Kafka rows, through parse +
    dedupe_key); each the second of two runs, so the JIT and the Kafka consumer are warm."""
    raw = (
        spark.read.format("kafka")
        .options(**settings.spark_kafka_options())
        .option("subscribe", settings.topic_transactions)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
    )
    rates = []
    for frame in (raw, transforms.dedupe_key(transforms.parse(raw))):
        seconds = 0.0
        for _ in range(2):
            started = time.perf_counter()
            frame.write.format("noop").mode("overwrite").save()
            seconds = time.perf_counter() - started
        rates.append(events / seconds)
    return rates[0], rates[1]


def run_backlog(
    spark: SparkSession, base: Settings, root: Path, args: Any, load: LoadSampler
) -> BacklogResult:
    settings = bench_settings(
        root / "backlog",
        kafka_port=base.kafka_port,
        kafka_controller_port=base.kafka_controller_port,
        topic_transactions="backlog-transactions",
        topic_customers="backlog-customers",
        max_offsets_per_trigger=args.max_offsets,
    )
    topics.ensure_topics(settings)
    if args.model:
        promote_fixed_model(spark, settings)
    print(f"(a) generating {args.events:,} events for {args.customers:,} customers", flush=True)
    events = events_of("backlog", args.customers, args.events, seed=1)
    rate, publish_s = publish(settings, events, None)
    del events
    print(f"    published in {publish_s:.1f} s ({rate:,.0f} sends/s)", flush=True)
    log_file = root / "stream-backlog.log"
    started = time.monotonic()
    proc = start_stream(settings, once=True, log_file=log_file)
    try:
        code = proc.wait(args.timeout)
    finally:
        stop_stream(proc)
    process_s = time.monotonic() - started
    process_load = load.mean(started, started + process_s)
    if code != 0:
        raise RuntimeError(f"stream --once failed with {code}:\n{tail(log_file)}")
    print(
        f"    stream --once finished in {process_s:.1f} s (mean load {process_load:.1f})",
        flush=True,
    )

    rows = metrics_rows(spark, settings)
    if sum(r["input_rows"] for r in rows) != args.events:
        raise RuntimeError(f"stream_metrics counts {sum(r['input_rows'] for r in rows)} rows")
    table = []
    previous_end: float | None = None
    first_start = rows[0]["start_s"]
    for r in rows:
        gap = None if previous_end is None else r["start_s"] - previous_end
        table.append(
            (
                int(r["batch_id"]),
                int(r["input_rows"]),
                int(r["customers_touched"]),
                int(r["customers_rescored"]),
                r["start_s"] - first_start,
                r["batch_duration_s"],
                gap,
                r["rows_per_s"],
            )
        )
        previous_end = r["start_s"] + r["batch_duration_s"]
    print()
    print(
        markdown_table(
            [
                "batch",
                "rows",
                "customers",
                "rescored",
                "start s",
                "duration s",
                "gap before s",
                "rows/s",
            ],
            table,
        )
    )
    last_end = rows[-1]["start_s"] + rows[-1]["batch_duration_s"]
    later = rows[1:]
    if later:
        sustained = sum(r["input_rows"] for r in later) / (last_end - later[0]["start_s"])
        body_only = sum(r["input_rows"] for r in later) / sum(r["batch_duration_s"] for r in later)
    else:
        sustained = body_only = float("nan")
    with_warmup = args.events / (last_end - first_start)
    print("    measuring the baseline (bare read + parse of the same topic)", flush=True)
    raw_rate, baseline = bare_rates(spark, settings, args.events)
    return BacklogResult(
        args.events,
        publish_s,
        process_s,
        sustained,
        with_warmup,
        body_only,
        baseline,
        raw_rate,
        process_load,
    )


def print_backlog(result: BacklogResult, args: Any) -> None:
    n = result.events
    rows: list[tuple[str, float, str]] = [
        ("sustained, batches 1.. (wall clock, first start to last end)", result.sustained, ""),
        ("sustained, batches 1.. (sum of batch bodies only)", result.body_only, ""),
        ("all batches incl. warm-up batch 0 (wall clock)", result.with_warmup, ""),
        ("whole `stream --once` process (JVM start to exit)", n / result.process_s, ""),
        ("baseline: bare Kafka read + parse + dedupe key, noop sink", result.baseline, "1.00"),
        ("(reference: bare Kafka read alone, noop sink)", result.raw_read, ""),
        ("(reference: producer, publish with acks=all)", n / result.publish_s, ""),
    ]
    print()
    print(
        f"(a) backlog of {n:,} events, {args.customers:,} customers, "
        f"maxOffsetsPerTrigger {args.max_offsets:,}, model {'on' if args.model else 'off'}; "
        f"mean 1-min load average while the stream ran: {result.load:.1f} on {os.cpu_count()} cores"
    )
    print(
        markdown_table(
            ["throughput", "events/s", "vs baseline"],
            [
                (label, rate, ratio or f"{rate / result.baseline:.2f}")
                for label, rate, ratio in rows[:5]
            ]
            + [(label, rate, "") for label, rate, _ in rows[5:]],
        )
    )
    print(
        f"target >= {TARGET_THROUGHPUT:,.0f} events/s sustained: "
        f"{verdict(result.sustained, TARGET_THROUGHPUT, smaller_is_better=False)} "
        f"({result.sustained:,.0f} events/s)"
    )


@dataclass(frozen=True)
class RateResult:
    rate: int
    sent_rate: float
    events: int
    batches: int
    mean_batch_rows: float
    mean_batch_s: float
    busy: float
    processing_rate: float
    capacity: float
    p50: float
    p95: float
    worst: float
    batch_p50_median: float
    batch_p95_max: float
    drain_s: float
    load: float


def latency_by_phase(
    spark: SparkSession, settings: Settings, phases: dict[str, tuple[int, float, float, float]]
) -> list[RateResult]:
    """Per-event latency from the lake, grouped by the event-id prefix of each phase."""
    metrics = (
        spark.read.format("delta")
        .load(str(settings.table_path(tables.STREAM_METRICS)))
        .where(F.col("query") == "transactions")
    )
    events = (
        spark.read.format("delta")
        .load(str(settings.table_path(tables.EVENTS)))
        .select(
            F.substring_index("event_id", "-", 1).alias("phase"),
            (F.unix_micros("produced_at") / 1e6).alias("produced_s"),
            "batch_id",
        )
    )
    commits = (
        events.groupBy("batch_id")
        .agg(F.min("produced_s").alias("first_s"), F.min("phase").alias("batch_phase"))
        .join(metrics, "batch_id")
        .select(
            "batch_id",
            "batch_phase",
            (F.col("first_s") + F.col("latency_max_s")).alias("commit_s"),
            "input_rows",
            "batch_duration_s",
            "latency_p50_s",
            "latency_p95_s",
        )
    ).cache()
    per_event = (
        events.join(commits.select("batch_id", "commit_s"), "batch_id")
        .withColumn("lat", F.col("commit_s") - F.col("produced_s"))
        .groupBy("phase")
        .agg(
            F.count("*").alias("n"),
            F.expr("percentile(lat, array(0.5, 0.95))").alias("p"),
            F.max("lat").alias("worst"),
            F.min("produced_s").alias("first_s"),
            F.max("produced_s").alias("last_s"),
            F.max("commit_s").alias("last_commit_s"),
        )
    )
    per_batch = commits.groupBy(F.col("batch_phase").alias("phase")).agg(
        F.count("*").alias("batches"),
        F.avg("input_rows").alias("mean_rows"),
        F.avg("batch_duration_s").alias("mean_s"),
        F.sum("batch_duration_s").alias("busy_s"),
        F.sum("input_rows").alias("rows"),
        F.median("latency_p50_s").alias("p50_median"),
        F.max("latency_p95_s").alias("p95_max"),
    )
    joined = {r["phase"]: r for r in per_event.join(per_batch, "phase").collect()}
    commits.unpersist()
    out = []
    for prefix, (rate, sent_rate, drain_s, load) in phases.items():
        r = joined[prefix]
        window = r["last_commit_s"] - r["first_s"]
        out.append(
            RateResult(
                rate=rate,
                sent_rate=sent_rate,
                events=int(r["n"]),
                batches=int(r["batches"]),
                mean_batch_rows=float(r["mean_rows"]),
                mean_batch_s=float(r["mean_s"]),
                busy=float(r["busy_s"]) / (r["last_s"] - r["first_s"]),
                processing_rate=r["n"] / window,
                capacity=float(r["rows"]) / float(r["busy_s"]),
                p50=float(r["p"][0]),
                p95=float(r["p"][1]),
                worst=float(r["worst"]),
                batch_p50_median=float(r["p50_median"]),
                batch_p95_max=float(r["p95_max"]),
                drain_s=drain_s,
                load=load,
            )
        )
    return out


def run_latency(
    spark: SparkSession, base: Settings, root: Path, args: Any, load: LoadSampler
) -> list[RateResult]:
    settings = bench_settings(
        root / "latency",
        kafka_port=base.kafka_port,
        kafka_controller_port=base.kafka_controller_port,
        topic_transactions="latency-transactions",
        topic_customers="latency-customers",
    )
    topics.ensure_topics(settings)
    if args.model:
        promote_fixed_model(spark, settings)
    log_file = root / "stream-latency.log"
    proc = start_stream(settings, once=False, log_file=log_file)
    phases: dict[str, tuple[int, float, float, float]] = {}
    produced = 0
    try:
        warm = events_of("warm", args.customers, int(args.rates[0] * args.warmup), seed=2)
        print(
            f"(b) stream started (trigger {settings.trigger_interval_s} s); warm-up "
            f"{len(warm):,} events",
            flush=True,
        )
        publish(settings, warm, args.rates[0])
        produced += len(warm)
        waited = wait_caught_up(settings, produced, proc, args.timeout)
        print(f"    warm-up processed ({waited:.1f} s after the last send)", flush=True)
        for i, rate in enumerate(args.rates):
            prefix = f"r{rate}"
            events = events_of(prefix, args.customers, int(rate * args.duration), seed=10 + i)
            started = time.monotonic()
            sent_rate, _ = publish(settings, events, rate)
            produced += len(events)
            drain = wait_caught_up(settings, produced, proc, args.timeout)
            mean_load = load.mean(started, time.monotonic())
            phases[prefix] = (rate, sent_rate, drain, mean_load)
            print(
                f"    {rate:>6,}/s for {args.duration:.0f} s: sent at {sent_rate:,.0f}/s, "
                f"drained {drain:.1f} s after the last send (mean load {mean_load:.1f})",
                flush=True,
            )
    finally:
        code = stop_stream(proc)
    if code != 0:
        raise RuntimeError(f"the stream exited with {code}:\n{tail(log_file)}")
    return latency_by_phase(spark, settings, phases)


def print_latency(results: list[RateResult], args: Any, trigger_s: float) -> None:
    base = results[0]
    print()
    print(
        f"(b) end-to-end latency (produced_at -> batch commit), {args.duration:.0f} s per rate, "
        f"trigger {trigger_s} s, model {'on' if args.model else 'off'}; "
        f"baseline = {base.rate:,}/s"
    )
    print(
        markdown_table(
            [
                "rate/s",
                "sent/s",
                "events",
                "batches",
                "rows/batch",
                "batch s",
                "busy",
                "processed/s",
                "capacity/s",
                "p50 s",
                "p95 s",
                "max s",
                "batch p50 median",
                "batch p95 max",
                "p50 vs base",
                "p95 vs base",
                "load avg",
            ],
            [
                (
                    r.rate,
                    r.sent_rate,
                    r.events,
                    r.batches,
                    r.mean_batch_rows,
                    r.mean_batch_s,
                    r.busy,
                    r.processing_rate,
                    r.capacity,
                    r.p50,
                    r.p95,
                    r.worst,
                    r.batch_p50_median,
                    r.batch_p95_max,
                    f"{r.p50 / base.p50:.2f}x",
                    f"{r.p95 / base.p95:.2f}x",
                    r.load,
                )
                for r in results
            ],
        )
    )
    print(
        "busy = sum of batch durations / sending window; capacity = rows / sum of batch "
        "durations (what the stream could absorb at that batch size); load avg = mean 1-min "
        f"load average while sending and draining ({os.cpu_count()} cores; the stream alone "
        "keeps it near 2)"
    )
    at_target = next((r for r in results if r.rate == TARGET_RATE), None)
    if at_target is not None:
        print(
            f"target at {TARGET_RATE:,}/s: p50 {at_target.p50:.2f} s <= {TARGET_P50_S} s "
            f"{verdict(at_target.p50, TARGET_P50_S)}; p95 {at_target.p95:.2f} s <= "
            f"{TARGET_P95_S} s {verdict(at_target.p95, TARGET_P95_S)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=300_000, help="backlog size (a)")
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--max-offsets", type=int, default=50_000, help="per trigger, (a)")
    parser.add_argument("--rates", type=int, nargs="+", default=[1000, 2500, 5000], help="(b)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per rate (b)")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds at the first rate")
    parser.add_argument("--timeout", type=float, default=600.0, help="per stream wait")
    parser.add_argument("--no-model", dest="model", action="store_false", help="no rescoring")
    parser.add_argument("--skip-backlog", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary lake and logs")
    args = parser.parse_args()
    args.rates = sorted(args.rates)
    started = time.monotonic()
    from segstream.spark_session import get_spark

    with temp_root("segstream-bench-stream-", args.keep) as root:
        base = bench_settings(root)
        backlog: BacklogResult | None = None
        latency: list[RateResult] = []
        with embedded_broker(base), LoadSampler() as load:
            spark = get_spark(base, "segstream-bench-reader")
            try:
                if not args.skip_backlog:
                    backlog = run_backlog(spark, base, root, args, load)
                if not args.skip_latency:
                    latency = run_latency(spark, base, root, args, load)
            finally:
                spark.stop()
        if backlog is not None:
            print_backlog(backlog, args)
        if latency:
            print_latency(latency, args, base.trigger_interval_s)
        print(f"\ntotal {time.monotonic() - started:.0f} s; machine: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
