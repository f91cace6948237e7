"""What `streaming.transforms.parse` costs per message, against its own building blocks.

    .venv/bin/python -m bench.parse_cost [--events 50000] [--bad-share 0.01]

N contract-valid messages (producers.generator, Event.encode) plus a share of bad ones (one
of every producers.bad_events kind, round robin), cached as Kafka-shaped rows in 2
partitions, each step written to Spark's `noop` sink (the second of two runs is timed).
Baseline, same run: `transforms.parse`. Steps: the cached rows alone; `from_json` alone;
`try_parse_json` alone; `transforms.parse`; `parse` + `events` (the valid ones, as the customer state reads them).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import time
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bench.harness import bench_settings, markdown_table, temp_root
from producers.bad_events import BadKind, make_bad
from producers.generator import GeneratorOptions, generate
from segstream.contracts.events import EVENT_SCHEMA
from segstream.testing import KAFKA_SCHEMA
from streaming import transforms


def messages(events: int, bad_share: float) -> tuple[list[tuple[Any, ...]], int]:
    """Kafka-shaped rows and how many of them are bad."""
    now = datetime.now(UTC)
    every = round(1 / bad_share) if bad_share > 0 else 0
    options = GeneratorOptions(customers=50_000, start=datetime(2026, 1, 1, tzinfo=UTC))
    rows: list[tuple[Any, ...]] = []
    kinds = [k for k in BadKind if k is not BadKind.DUPLICATE]
    rng = random.Random(0)
    bad = 0
    for i, event in enumerate(itertools.islice(generate(options), events)):
        if every and i % every == 0:
            message = make_bad(kinds[bad % len(kinds)], rng, event, now)
            key, value = message.key, message.value
            bad += 1
        else:
            key, value = event.key(), event.encode(now)
        rows.append((key, value, "transactions", i % 2, i, now, 0))
    return rows, bad


def rate(frame: DataFrame, rows: int) -> float:
    seconds = 0.0
    for _ in range(2):
        started = time.perf_counter()
        frame.write.format("noop").mode("overwrite").save()
        seconds = time.perf_counter() - started
    return rows / seconds


def run(spark: SparkSession, args: Any) -> None:
    data, bad = messages(args.events, args.bad_share)
    raw = spark.createDataFrame(data, KAFKA_SCHEMA).repartition(2).cache()
    n = raw.count()
    text = F.col("value").cast("string")
    steps: list[tuple[str, DataFrame]] = [
        ("cached Kafka rows only", raw),
        ("from_json alone", raw.select(F.from_json(text, EVENT_SCHEMA).alias("e"))),
        ("try_parse_json alone", raw.select(F.try_parse_json(text).alias("v"))),
        ("transforms.parse (baseline)", transforms.parse(raw)),
        ("parse + events", transforms.events(transforms.parse(raw))),
    ]
    rates = []
    for label, frame in steps:
        rates.append((label, rate(frame, n)))
        print(f"  {label}: {rates[-1][1]:,.0f} rows/s", flush=True)
    base = rates[3][1]
    print()
    print(f"{n:,} messages ({bad:,} bad), 2 partitions, noop sink, second of two runs")
    print(
        markdown_table(
            ["step", "rows/s", "µs per row (2 cores)", "vs transforms.parse"],
            [(label, r, 2e6 / r, f"{r / base:.2f}x") for label, r in rates],
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--bad-share", type=float, default=0.01)
    args = parser.parse_args()
    started = time.monotonic()
    from segstream.spark_session import get_spark

    with temp_root("segstream-bench-parse-", keep=False) as root:
        spark = get_spark(bench_settings(root), "segstream-bench-parse")
        try:
            run(spark, args)
        finally:
            spark.stop()
    print(f"\ntotal {time.monotonic() - started:.0f} s; machine: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
