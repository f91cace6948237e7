"""Per-micro-batch cost of the stream as `customer_rfm` grows, next to a full RFM recompute.

    .venv/bin/python -m bench.micro_batch_cost [--sizes 100000 1000000] [--batch-events 20000]
        [--batches 3] [--small-batch 100] [--events-per-customer 5] [--file-rows 100000]
        [--no-model] [--driver-memory 4g] [--keep]

For each size N: `customer_rfm` gets N synthetic customers (spark.range, deterministic, files
of --file-rows rows sorted by id, created by segstream.lake.writes.ensure so deletion vectors
are on) and `events` about 5 N events (the full-recompute input). With a model (default) a
fixed 4-segment model is promoted and `customer_segments` holds all N customers, as after a
rescore. Then one warm-up and --batches measured micro-batches of --batch-events events on
random existing customers go through the real foreachBatch body in-process: Kafka-shaped
rows (key, value = Event.encode JSON, topic, partition, offset, timestamp) -> transforms.parse
-> dedupe_key -> streaming.micro_batch.TransactionsMicroBatch(...)(df, batch_id). The streaming-only
parts (Kafka fetch, the RocksDB de-duplication state) are not in this number. One more
batch of --small-batch events shows the fixed cost of a batch.

Step times come from wrapping segstream.lake.writes.append/upsert, ModelCache.get,
TransactionsMicroBatch._score and BatchSummary.of in this process (nothing in streaming/ is
changed); Spark jobs per batch from the status tracker, Delta commits from the tables' logs,
the MERGEs' own operationMetrics from DESCRIBE HISTORY. Baselines, same run: the smallest
size (ratio batch(N)/batch(smallest), target <= 1.5x for 1M vs 100k) and a full recompute
of customer_rfm from `events` (rfm_deltas over all events, overwrite) at each size.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

from pyspark.sql import DataFrame, SparkSession

from bench.harness import (
    AS_OF,
    LoadSampler,
    bench_settings,
    history,
    markdown_table,
    median,
    promote_fixed_model,
    synthetic_events,
    synthetic_rfm,
    temp_root,
    verdict,
)
from segstream.config import Settings
from segstream.contracts import tables
from segstream.contracts.events import Event, Item
from segstream.lake import reads, writes
from segstream.model import registry, segments
from segstream.testing import KAFKA_SCHEMA
from streaming import transforms
from streaming.batch_plans import BatchPlans
from streaming.metrics import BatchSummary, MetricsRecorder
from streaming.micro_batch import TABLES as STREAM_TABLES
from streaming.micro_batch import TransactionsMicroBatch, tune_session
from streaming.model_cache import ModelCache

TARGET_GROWTH = 1.5
MERGE_METRICS = (
    "executionTimeMs",
    "materializeSourceTimeMs",
    "scanTimeMs",
    "rewriteTimeMs",
    "numTargetFilesAdded",
    "numTargetFilesRemoved",
    "numTargetDeletionVectorsAdded",
    "numTargetRowsCopied",
)
SUMMARY = "batch summary (first action: parse of the Kafka rows, cached)"
QUARANTINE = "append quarantine (skipped when nothing is bad)"
EVENTS = "append events"
RFM = "merge customer_rfm (incl. the rfm_deltas aggregation)"
MODEL = "scoring: model cache check (models table)"
SCORE = "scoring: read touched customer_rfm rows, score, count changes"
HISTORY = "scoring: append segment_history"
SEGMENTS = "scoring: merge customer_segments"
OTHER = "other (persist, unpersist, bookkeeping)"
STEPS = (SUMMARY, QUARANTINE, EVENTS, RFM, MODEL, SCORE, HISTORY, SEGMENTS, OTHER)
_SCORE_TOTAL = "_score"
TABLES = (
    tables.QUARANTINE,
    tables.EVENTS,
    tables.CUSTOMER_RFM,
    tables.SEGMENT_HISTORY,
    tables.CUSTOMER_SEGMENTS,
)


def kafka_rows(size: int, count: int, batch_id: int, seed: int) -> list[tuple[Any, ...]]:
    """`count` contract-valid events on random existing customers, as Kafka source rows."""
    rng = random.Random(seed * 1_000_003 + batch_id)
    now = datetime.now(UTC)
    base = AS_OF + timedelta(days=batch_id)
    rows = []
    for i in range(count):
        customer = f"c{rng.randrange(size):07d}"
        items = tuple(
            Item(
                sku=f"sku-{rng.randrange(500):04d}",
                category=rng.choice(("grocery", "apparel", "home", "toys")),
                quantity=rng.randint(1, 4),
                unit_price=Decimal(rng.randint(50, 20_000)) / 100,
            )
            for _ in range(rng.randint(1, 3))
        )
        is_return = rng.random() < 0.05
        event = Event(
            event_id=f"b{size}-{batch_id}-{i}",
            event_type="return" if is_return else "purchase",
            customer_id=customer,
            order_id=f"o{size}-{batch_id}-{i}",
            event_time=base + timedelta(seconds=rng.randrange(86_400)),
            amount=sum((it.total for it in items), Decimal(0)).quantize(Decimal("0.01")),
            items=() if is_return else items,
            channel="web",
        )
        rows.append((event.key(), event.encode(now), "transactions", i % 2, i, now, 0))
    return rows


class StepTimer:
    """Seconds per labelled step of the current batch."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)

    def wrap(self, fn: Callable[..., Any], label: Callable[..., str]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.current[label(*args, **kwargs)] += time.perf_counter() - started

        return timed

    def take(self) -> dict[str, float]:
        out, self.current = dict(self.current), defaultdict(float)
        return out


@contextmanager
def instrumented(
    settings: Settings, models: ModelCache, handler: TransactionsMicroBatch, timer: StepTimer
) -> Iterator[None]:
    """Times the steps of `handler` by wrapping what it calls (restored afterwards)."""
    step_names = (QUARANTINE, EVENTS, RFM, HISTORY, SEGMENTS)
    names = {settings.table_path(t): step for t, step in zip(TABLES, step_names, strict=True)}

    def by_path(*args: Any, **_: Any) -> str:
        return names.get(args[1], f"write {args[1]}")

    with (
        mock.patch.object(writes, "append", timer.wrap(writes.append, by_path)),
        mock.patch.object(writes, "upsert", timer.wrap(writes.upsert, by_path)),
        mock.patch.object(BatchSummary, "of", timer.wrap(BatchSummary.of, lambda *a, **k: SUMMARY)),
        mock.patch.object(models, "get", timer.wrap(models.get, lambda *a, **k: MODEL)),
        mock.patch.object(
            handler, "_score", timer.wrap(handler._score, lambda *a, **k: _SCORE_TOTAL)
        ),
    ):
        yield


@dataclass
class SizeResult:
    size: int
    load_s: float
    events_rows: int
    events_load_s: float
    full_recompute_s: float
    batch_s: list[float] = field(default_factory=list)
    warmup_s: float = 0.0
    customers: list[int] = field(default_factory=list)
    steps: list[dict[str, float]] = field(default_factory=list)
    merges: list[dict[str, Any]] = field(default_factory=list)
    segment_merges: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[int] = field(default_factory=list)
    commits: list[int] = field(default_factory=list)
    small: dict[str, float] = field(default_factory=dict)
    load: float = float("nan")

    def step(self, name: str) -> float:
        return median([s.get(name, 0.0) for s in self.steps])

    def merge_metric(self, name: str, table: str = "customer_rfm") -> float:
        merges = self.merges if table == "customer_rfm" else self.segment_merges
        return median([float(m.get(name, 0.0)) for m in merges])


def job_count(spark: SparkSession) -> int:
    """Spark jobs started so far in this application (the highest job id + 1)."""
    ids = spark.sparkContext.statusTracker().getJobIdsForGroup(None)
    return max(ids, default=-1) + 1


def commit_count(settings: Settings) -> int:
    return sum(len(list((settings.table_path(t) / "_delta_log").glob("*.json"))) for t in TABLES)


def split_steps(steps: dict[str, float], seconds: float) -> dict[str, float]:
    """Nested timings made exclusive: scoring's own work is what its sub-steps do not cover."""
    out = dict(steps)
    score_total = out.pop(_SCORE_TOTAL, 0.0)
    out[SCORE] = score_total - sum(out.get(s, 0.0) for s in (MODEL, HISTORY, SEGMENTS))
    out[OTHER] = (
        seconds - score_total - sum(out.get(s, 0.0) for s in (SUMMARY, QUARANTINE, EVENTS, RFM))
    )
    return out


def computed_only(records: DataFrame) -> None:
    """Stands in for the Kafka publish of the feed (no broker here): the records are built."""
    records.write.format("noop").mode("overwrite").save()


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def build_lake(
    spark: SparkSession, settings: Settings, size: int, args: Any
) -> tuple[float, int, float]:
    writes.ensure_all(spark, settings, STREAM_TABLES)
    load_s = timed(
        lambda: writes.append(
            synthetic_rfm(spark, size, args.file_rows), settings.table_path(tables.CUSTOMER_RFM)
        )
    )
    events_rows = size * args.events_per_customer
    events_s = timed(
        lambda: writes.append(
            synthetic_events(spark, size, args.events_per_customer),
            settings.table_path(tables.EVENTS),
        )
    )
    if args.model:
        promote_fixed_model(spark, settings)
        model = registry.current(spark, settings)
        assert model is not None
        rfm = reads.customer_rfm(spark, settings)
        empty = reads.table(spark, settings, tables.CUSTOMER_SEGMENTS)
        writes.append(
            segments.segment_rows(segments.compare(rfm, empty, model, AS_OF, "rescore")),
            settings.table_path(tables.CUSTOMER_SEGMENTS),
        )
    return load_s, events_rows, events_s


def full_recompute(spark: SparkSession, settings: Settings, target: Path) -> float:
    events = reads.table(spark, settings, tables.EVENTS)
    return timed(
        lambda: (
            transforms.rfm_deltas(events).write.format("delta").mode("overwrite").save(str(target))
        )
    )


def run_size(
    spark: SparkSession, root: Path, size: int, args: Any, load: LoadSampler
) -> SizeResult:
    settings = bench_settings(root / f"n{size}")
    print(f"{size:>9,} customers: building the lake", flush=True)
    load_s, events_rows, events_s = build_lake(spark, settings, size, args)
    print(
        f"          customer_rfm {load_s:.1f} s, events ({events_rows:,}) {events_s:.1f} s",
        flush=True,
    )
    app = f"bench-batch-cost-{size}"
    models = ModelCache(spark, settings)
    recorder = MetricsRecorder("transactions", settings.table_path(tables.STREAM_METRICS), app)
    plans = BatchPlans(settings.checkpoint_path("bench") / "plans")
    handler = TransactionsMicroBatch(spark, settings, app, models, recorder, plans, computed_only)
    result = SizeResult(size, load_s, events_rows, events_s, 0.0)
    timer = StepTimer()

    def one_batch(batch_id: int, events: int) -> tuple[float, dict[str, float], int, int]:
        raw: DataFrame = spark.createDataFrame(
            kafka_rows(size, events, batch_id, seed=size), KAFKA_SCHEMA
        ).cache()
        raw.count()
        frame = transforms.dedupe_key(transforms.parse(raw))
        jobs, commits = job_count(spark), commit_count(settings)
        started = time.perf_counter()
        handler(frame, batch_id)
        seconds = time.perf_counter() - started
        jobs, commits = job_count(spark) - jobs, commit_count(settings) - commits
        raw.unpersist()
        return seconds, split_steps(timer.take(), seconds), jobs, commits

    batches_started = time.monotonic()
    with instrumented(settings, models, handler, timer):
        for batch_id in range(args.batches + 1):
            seconds, steps, jobs, commits = one_batch(batch_id, args.batch_events)
            merge = history(spark, settings.table_path(tables.CUSTOMER_RFM))[-1]
            label = "warm-up" if batch_id == 0 else "measured"
            print(
                f"          batch {batch_id} ({label}): {seconds:.2f} s, {jobs} Spark jobs, "
                f"{commits} Delta commits (rfm merge {steps.get(RFM, 0.0):.2f} s, "
                f"{int(merge.get('numTargetRowsUpdated', 0)):,} rows updated)",
                flush=True,
            )
            if batch_id == 0:
                result.warmup_s = seconds
                continue
            result.batch_s.append(seconds)
            result.steps.append(steps)
            result.merges.append(merge)
            result.jobs.append(jobs)
            result.commits.append(commits)
            result.customers.append(int(merge.get("numSourceRows", 0)))
            if args.model:
                result.segment_merges.append(
                    history(spark, settings.table_path(tables.CUSTOMER_SEGMENTS))[-1]
                )
        if args.small_batch:
            seconds, steps, jobs, commits = one_batch(args.batches + 1, args.small_batch)
            result.small = {"total": seconds, "jobs": jobs, "commits": commits, **steps}
            print(f"          batch of {args.small_batch} events: {seconds:.2f} s", flush=True)
    result.load = load.mean(batches_started, time.monotonic())
    target = settings.lake / "tables" / "customer_rfm_full"
    result.full_recompute_s = full_recompute(spark, settings, target)
    print(f"          full recompute {result.full_recompute_s:.1f} s", flush=True)
    return result


def print_results(results: list[SizeResult], args: Any) -> None:
    base = results[0]
    sizes = [f"{r.size:,}" for r in results]
    print()
    print(
        f"micro-batch of {args.batch_events:,} events on random existing customers, median of "
        f"{args.batches} (after 1 warm-up); model {'on' if args.model else 'off'}; "
        f"customer_rfm files of {args.file_rows:,} rows"
    )
    headers = ["seconds unless named"]
    for r in results:
        headers.append(f"{r.size:,}: {args.batch_events:,} events")
        if args.small_batch:
            headers.append(f"{r.size:,}: {args.small_batch} events")

    def line(
        label: str, big: Callable[[SizeResult], object], small: str | None
    ) -> tuple[object, ...]:
        cells: list[object] = [label]
        for r in results:
            cells.append(big(r))
            if args.small_batch:
                cells.append(r.small.get(small) if small else None)
        return tuple(cells)

    rows = [
        line("customers touched", lambda r: median(r.customers), None),
        line("batch, first call (warm-up)", lambda r: r.warmup_s, None),
        line("**batch, median**", lambda r: median(r.batch_s), "total"),
        line("batch, min", lambda r: min(r.batch_s), None),
        line("batch, max", lambda r: max(r.batch_s), None),
        line("Spark jobs", lambda r: int(median(r.jobs)), "jobs"),
        line("Delta commits", lambda r: int(median(r.commits)), "commits"),
        line("mean 1-min load average during the batches", lambda r: r.load, None),
    ]
    rows += [line(f"  step: {s}", lambda r, s=s: r.step(s), s) for s in STEPS]  # type: ignore[misc]
    print(markdown_table(headers, rows))
    print()
    print(
        f"MERGE operationMetrics (DESCRIBE HISTORY), median over the {args.batch_events:,}-event batches"
    )
    merge_rows = [
        (f"customer_rfm {m}", *[r.merge_metric(m) for r in results])
        for m in (*MERGE_METRICS, "numTargetRowsUpdated", "numTargetRowsInserted")
    ]
    if args.model:
        merge_rows += [
            (f"customer_segments {m}", *[r.merge_metric(m, "segments") for r in results])
            for m in MERGE_METRICS[:4]
        ]
    merge_rows += [
        ("full recompute of customer_rfm from events, s", *[r.full_recompute_s for r in results]),
        ("  events rows it reads", *[r.events_rows for r in results]),
        ("(setup: customer_rfm load s)", *[r.load_s for r in results]),
        ("(setup: events load s)", *[r.events_load_s for r in results]),
    ]
    print(markdown_table(["metric", *sizes], merge_rows))
    print()
    ratios: list[tuple[object, ...]] = []
    for r in results:
        ratios.append(
            (
                f"{r.size:,}",
                median(r.batch_s),
                f"{median(r.batch_s) / median(base.batch_s):.2f}x",
                f"{r.step(RFM) / base.step(RFM):.2f}x",
                r.full_recompute_s,
                f"{median(r.batch_s) / r.full_recompute_s:.3f}",
                f"{r.step(RFM) / r.full_recompute_s:.3f}",
                f"{r.full_recompute_s / median(r.batch_s):.1f}",
            )
        )
    print(
        markdown_table(
            [
                "customers",
                "batch s",
                f"batch vs {base.size:,}",
                f"rfm merge vs {base.size:,}",
                "full recompute s",
                "batch / full",
                "rfm merge / full",
                "batches per full recompute",
            ],
            ratios,
        )
    )
    big = next((r for r in results if r.size == 1_000_000), None)
    small = next((r for r in results if r.size == 100_000), None)
    if big is not None and small is not None:
        growth = median(big.batch_s) / median(small.batch_s)
        print(
            f"target batch(1M)/batch(100k) <= {TARGET_GROWTH}x: {verdict(growth, TARGET_GROWTH)} "
            f"({growth:.2f}x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--batch-events", type=int, default=20_000)
    parser.add_argument("--batches", type=int, default=3, help="measured, after one warm-up")
    parser.add_argument("--events-per-customer", type=int, default=5)
    parser.add_argument("--file-rows", type=int, default=100_000, help="customer_rfm layout")
    parser.add_argument(
        "--small-batch", type=int, default=100, help="one more batch this small (0: none)"
    )
    parser.add_argument("--no-model", dest="model", action="store_false", help="no rescoring")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--keep", action="store_true", help="keep the temporary lakes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    from segstream.spark_session import get_spark

    with temp_root("segstream-bench-batch-cost-", args.keep) as root:
        spark = get_spark(
            bench_settings(root, spark_driver_memory=args.driver_memory), "segstream-bench-batch"
        )
        tune_session(spark)
        try:
            with LoadSampler() as load:
                results = [run_size(spark, root, size, args, load) for size in sorted(args.sizes)]
        finally:
            spark.stop()
    print_results(results, args)
    print(
        f"\ntotal {time.monotonic() - started:.0f} s; machine: {os.cpu_count()} cores, mean "
        f"1-min load average {load.mean():.1f} (peak {load.peak():.1f}; this benchmark alone "
        "keeps it near 2)"
    )


if __name__ == "__main__":
    main()
