"""What one upsert of `customer_segments` costs, against an append of the same rows.

    .venv/bin/python -m bench.merge_cost [--customers 20000] [--batches 1000 5000 20000]
        [--repeats 5] [--keep]

The stream's lake part upserts each batch's newest scores into `customer_segments` (and
`customer_rfm`) with `segstream.lake.writes.upsert`, the same MERGE measured here. For each
batch size: --repeats MERGEs of that many customers (spread over the whole table, as a
stream's batch is) into a table of --customers, each timed, and as many appends of the same
rows to a second Delta table, the baseline of the same run. A warm-up of both comes first,
not measured. The session is the stream's (local mode, adaptive execution off) and nothing
else runs, so the figures are the least each write costs on this machine.
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bench.harness import bench_settings, customer_id, markdown_table, median, temp_root
from segstream.contracts import tables
from segstream.contracts.tables import CUSTOMER_SEGMENTS_SCHEMA
from segstream.lake import writes
from streaming.job import stream_session
from streaming.lake_writer import SEGMENT_INSERT, SEGMENT_UPDATE

_WARMUP = 3


def segment_rows(spark: SparkSession, customers: int, size: int, round_: int) -> DataFrame:
    """`size` rows shaped as `customer_segments`, for customers spread evenly over the
    table (a different set each round)."""
    step = max(1, customers // size)
    ids = spark.range(size).select(((F.col("id") * step + round_) % customers).alias("n"))
    now = datetime.now(UTC)
    cols = {
        "customer_id": customer_id("n"),
        "segment_id": (F.col("n") + round_) % 4,
        "segment_name": F.concat(F.lit("segment "), ((F.col("n") + round_) % 4).cast("string")),
        "model_version": F.lit(1),
        "distance": F.col("n") / 1000.0,
        "recency_days": F.lit(3.0),
        "frequency": (F.col("n") % 7).cast("double"),
        "monetary": F.col("n") * 1.5,
        "avg_order_value": F.lit(20.0),
        "tenure_days": F.lit(100.0),
        "as_of": F.lit(now),
        "scored_at": F.lit(now),
        "cause": F.lit("purchase"),
    }
    return ids.select(
        *[
            (cols[f.name] if f.name in cols else F.lit(None)).cast(f.dataType).alias(f.name)
            for f in CUSTOMER_SEGMENTS_SCHEMA.fields
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--batches", type=int, nargs="+", default=[1_000, 5_000, 20_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with temp_root("segstream-bench-merge-", args.keep) as root:
        settings = bench_settings(root)
        spark = stream_session(settings, "segstream-bench-merge")
        segments = writes.ensure(spark, settings, tables.CUSTOMER_SEGMENTS)
        appended = root / "appended"

        def merge(rows: DataFrame) -> float:
            t0 = time.monotonic()
            writes.upsert(rows, segments, "customer_id", SEGMENT_UPDATE, insert=SEGMENT_INSERT)
            return time.monotonic() - t0

        def append(rows: DataFrame) -> float:
            t0 = time.monotonic()
            writes.append(rows, appended)
            return time.monotonic() - t0

        print(f"(1) {args.customers:,} customers into customer_segments", flush=True)
        merge(segment_rows(spark, args.customers, args.customers, 0))
        for i in range(_WARMUP):
            rows = segment_rows(spark, args.customers, args.batches[0], i)
            merge(rows)
            append(rows)
        results = []
        for size in args.batches:
            merges, appends = [], []
            for i in range(args.repeats):
                rows = segment_rows(spark, args.customers, size, _WARMUP + i)
                merges.append(merge(rows))
                appends.append(append(rows))
            files = len(spark.read.format("delta").load(str(segments)).inputFiles())
            print(
                f"(2) batch of {size:,}: MERGE median {median(merges):.2f} s, "
                f"append {median(appends):.2f} s",
                flush=True,
            )
            results.append(
                (
                    size,
                    median(merges),
                    max(merges),
                    median(appends),
                    median(merges) / median(appends),
                    files,
                )
            )
        spark.stop()
    print()
    print(
        markdown_table(
            [
                "batch rows",
                "MERGE median s",
                "MERGE max s",
                "append median s",
                "MERGE / append",
                "table files after",
            ],
            results,
        )
    )


if __name__ == "__main__":
    main()
