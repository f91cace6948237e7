"""What one upsert of `customer_segments` costs, against Spark's MERGE and an append of the
same rows.

    .venv/bin/python -m bench.merge_cost [--customers 20000] [--batches 1000 5000 20000]
        [--repeats 5] [--keep]

The stream's lake part upserts each batch's newest scores into `customer_segments` (and
`customer_rfm`) with `segstream.lake.writes.upsert` (delta-rs in the driver), the upsert
measured here. For each batch size: --repeats upserts of that many customers (spread over the
whole table, as a stream's batch is) into a table of --customers, each timed; as many Spark
MERGEs of the same rows into a second such table (what the lake part used before) and
appends to a third, the baselines of the same run. A warm-up of all three comes first, not
measured. The session is the stream's (local mode, adaptive execution off) and nothing
else runs, so the figures are the least each write costs on this machine.
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import UTC, datetime

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from bench.harness import bench_settings, customer_id, markdown_table, median, temp_root
from segstream.contracts import tables
from segstream.contracts.tables import CUSTOMER_SEGMENTS_SCHEMA
from segstream.lake import writes
from streaming.customer_tables import SEGMENT_INSERT, SEGMENT_UPDATE
from streaming.job import stream_session

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
        spark = stream_session(settings, "segstream-bench-merge", settings.spark_lake_cores)
        segments = writes.ensure(spark, settings, tables.CUSTOMER_SEGMENTS)
        spark_merged = root / "spark-merged"
        appended = root / "appended"

        def upsert(rows: DataFrame) -> float:
            t0 = time.monotonic()
            writes.upsert(rows, segments, "customer_id", SEGMENT_UPDATE, insert=SEGMENT_INSERT)
            return time.monotonic() - t0

        update: dict[str, str | Column] = dict(SEGMENT_UPDATE)
        insert: dict[str, str | Column] = dict(SEGMENT_INSERT)

        def spark_merge(rows: DataFrame) -> float:
            t0 = time.monotonic()
            if not DeltaTable.isDeltaTable(spark, str(spark_merged)):
                rows.write.format("delta").save(str(spark_merged))
            else:
                (
                    DeltaTable.forPath(spark, str(spark_merged))
                    .alias("t")
                    .merge(rows.alias("s"), "t.customer_id = s.customer_id")
                    .whenMatchedUpdate(set=update)
                    .whenNotMatchedInsert(values=insert)
                    .execute()
                )
            return time.monotonic() - t0

        def append(rows: DataFrame) -> float:
            t0 = time.monotonic()
            writes.append(rows, appended)
            return time.monotonic() - t0

        print(f"(1) {args.customers:,} customers into customer_segments", flush=True)
        everyone = segment_rows(spark, args.customers, args.customers, 0)
        upsert(everyone)
        spark_merge(everyone)
        for i in range(_WARMUP):
            rows = segment_rows(spark, args.customers, args.batches[0], i)
            upsert(rows)
            spark_merge(rows)
            append(rows)
        results = []
        for size in args.batches:
            upserts, merges, appends = [], [], []
            for i in range(args.repeats):
                rows = segment_rows(spark, args.customers, size, _WARMUP + i)
                upserts.append(upsert(rows))
                merges.append(spark_merge(rows))
                appends.append(append(rows))
            files = len(spark.read.format("delta").load(str(segments)).inputFiles())
            print(
                f"(2) batch of {size:,}: upsert median {median(upserts):.2f} s, "
                f"Spark MERGE {median(merges):.2f} s, append {median(appends):.2f} s",
                flush=True,
            )
            results.append(
                (
                    size,
                    median(upserts),
                    max(upserts),
                    median(merges),
                    median(appends),
                    median(upserts) / median(merges),
                    median(upserts) / median(appends),
                    files,
                )
            )
        spark.stop()
    print()
    print(
        markdown_table(
            [
                "batch rows",
                "upsert median s",
                "upsert max s",
                "Spark MERGE median s",
                "append median s",
                "upsert / Spark MERGE",
                "upsert / append",
                "table files after",
            ],
            results,
        )
    )


if __name__ == "__main__":
    main()
