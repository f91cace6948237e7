"""Write amplification of the stream's `customer_rfm` MERGE, deletion vectors on vs off.

    .venv/bin/python -m bench.write_amplification [--customers 200000] [--touch 1000 10000]
        [--merges 3] [--file-rows 50000] [--new-share 0.1] [--events-per-customer 2] [--keep]

For each (deletion vectors on/off) x (customers touched per batch): a fresh `customer_rfm` of
--customers synthetic customers (segstream.lake.writes.ensure, then the property
delta.enableDeletionVectors set as measured; files of --file-rows rows sorted by id), then
--merges batches, each with --events-per-customer events for every touched customer (a
--new-share of them new customers), merged the way the stream does it:
streaming.transforms.rfm_deltas -> segstream.lake.writes.upsert(..., RFM_MERGE_UPDATE, ...).

Per merge: DESCRIBE HISTORY operationMetrics (numSourceRows, numTargetRowsUpdated /
Inserted / Copied, numTargetFilesAdded / Removed, numTargetDeletionVectorsAdded / Updated,
numTargetBytesAdded, executionTimeMs) and the bytes of the files the commit added on disk
(data files, deletion-vector files, _delta_log). Reported as rows written per input row
((updated + inserted + copied) / source rows) and bytes written per input row. Baseline,
same run: a plain Delta append of the same source rows (rows and bytes amplification 1).
Target (issue): <= 10x.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from bench.harness import (
    LoadSampler,
    bench_settings,
    events_for,
    files_under,
    history,
    markdown_table,
    median,
    synthetic_rfm,
    temp_root,
    verdict,
)
from segstream.contracts import tables
from segstream.lake import writes
from streaming import transforms

TARGET_AMPLIFICATION = 10.0


@dataclass(frozen=True)
class Merge:
    source_rows: int
    updated: int
    inserted: int
    copied: int
    files_added: int
    files_removed: int
    dvs_added: int
    dvs_updated: int
    data_bytes: int
    dv_bytes: int
    log_bytes: int
    execution_s: float
    wall_s: float

    @property
    def rows_written(self) -> int:
        return self.updated + self.inserted + self.copied

    @property
    def bytes_written(self) -> int:
        return self.data_bytes + self.dv_bytes


@dataclass(frozen=True)
class Config:
    deletion_vectors: bool
    touch: int
    merges: list[Merge]
    append_bytes_per_row: float
    table_files: int

    def med(self, name: str) -> float:
        return median([float(getattr(m, name)) for m in self.merges])

    @property
    def rows_amplification(self) -> float:
        return median([m.rows_written / m.source_rows for m in self.merges])

    @property
    def bytes_per_row(self) -> float:
        return median([m.bytes_written / m.source_rows for m in self.merges])

    @property
    def bytes_amplification(self) -> float:
        return self.bytes_per_row / self.append_bytes_per_row


def new_bytes(before: dict[str, int], after: dict[str, int]) -> tuple[int, int, int]:
    """(data, deletion vector, log) bytes of the files in `after` but not in `before`."""
    data = dv = log = 0
    for name, size in after.items():
        if name in before:
            continue
        if name.startswith("_delta_log"):
            log += size
        elif name.endswith(".bin"):
            dv += size
        elif name.endswith(".parquet"):
            data += size
    return data, dv, log


def create_table(
    spark: SparkSession, root: Path, customers: int, dv: bool, file_rows: int
) -> tuple[Path, int]:
    path = writes.ensure(spark, bench_settings(root), tables.CUSTOMER_RFM)
    spark.sql(
        f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES "
        f"('delta.enableDeletionVectors' = '{str(dv).lower()}')"
    )
    synthetic_rfm(spark, customers, file_rows).write.format("delta").mode("append").save(str(path))
    return path, sum(1 for name in files_under(path) if name.endswith(".parquet"))


def touched(customers: int, count: int, new_share: float, batch: int) -> list[int]:
    rng = random.Random(count * 7919 + batch)
    new = int(count * new_share)
    existing = rng.sample(range(customers), count - new)
    fresh = [customers + batch * count + i for i in range(new)]
    return existing + fresh


def run_config(spark: SparkSession, root: Path, dv: bool, touch: int, args: Any) -> Config:
    name = f"rfm-dv-{'on' if dv else 'off'}-{touch}"
    path, files = create_table(spark, root / name, args.customers, dv, args.file_rows)
    app = f"bench-wa-{name}"
    merges: list[Merge] = []
    append_per_row: list[float] = []
    for batch in range(1, args.merges + 1):
        ids = touched(args.customers, touch, args.new_share, batch)
        events = events_for(spark, ids, args.events_per_customer, batch)
        deltas = transforms.rfm_deltas(events).persist()
        deltas.count()
        before = files_under(path)
        started = time.perf_counter()
        writes.upsert(
            deltas,
            path,
            "customer_id",
            transforms.RFM_MERGE_UPDATE,
            txn=writes.Txn(app, batch),
        )
        wall = time.perf_counter() - started
        data, dv_bytes, log = new_bytes(before, files_under(path))
        m = history(spark, path)[-1]
        assert m["operation"] == "MERGE", m
        merges.append(
            Merge(
                source_rows=int(m["numSourceRows"]),
                updated=int(m.get("numTargetRowsUpdated", 0)),
                inserted=int(m.get("numTargetRowsInserted", 0)),
                copied=int(m.get("numTargetRowsCopied", 0)),
                files_added=int(m.get("numTargetFilesAdded", 0)),
                files_removed=int(m.get("numTargetFilesRemoved", 0)),
                dvs_added=int(m.get("numTargetDeletionVectorsAdded", 0)),
                dvs_updated=int(m.get("numTargetDeletionVectorsUpdated", 0)),
                data_bytes=data,
                dv_bytes=dv_bytes,
                log_bytes=log,
                execution_s=m.get("executionTimeMs", 0.0) / 1000,
                wall_s=wall,
            )
        )
        # Baseline: the same rows as a plain append to a table of their own.
        plain = root / f"append-{name}-{batch}"
        deltas.write.format("delta").mode("append").save(str(plain))
        a = history(spark, plain)[-1]
        append_per_row.append(a["numOutputBytes"] / a["numOutputRows"])
        deltas.unpersist()
        last = merges[-1]
        print(
            f"  dv {'on ' if dv else 'off'} touch {touch:>6,} merge {batch}: "
            f"{last.rows_written:,} rows written for {last.source_rows:,} "
            f"({last.rows_written / last.source_rows:.1f}x), "
            f"{last.bytes_written / 1024:,.0f} KiB, {wall:.2f} s",
            flush=True,
        )
    return Config(dv, touch, merges, median(append_per_row), files)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--touch", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--merges", type=int, default=3, help="per configuration")
    parser.add_argument("--file-rows", type=int, default=50_000, help="customer_rfm layout")
    parser.add_argument("--new-share", type=float, default=0.1, help="touched that are new")
    parser.add_argument("--events-per-customer", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temporary tables")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    from segstream.spark_session import get_spark

    configs: list[Config] = []
    with temp_root("segstream-bench-write-amp-", args.keep) as root:
        spark = get_spark(bench_settings(root), "segstream-bench-write-amp")
        try:
            with LoadSampler() as load:
                for dv in (True, False):
                    for touch in sorted(args.touch):
                        configs.append(run_config(spark, root, dv, touch, args))
        finally:
            spark.stop()

    print()
    print(
        f"customer_rfm of {args.customers:,} customers in {configs[0].table_files} files "
        f"({args.file_rows:,} rows each), {args.new_share:.0%} of touched customers new, "
        f"median of {args.merges} merges per row; baseline = plain append of the same rows"
    )
    rows = []
    for c in configs:
        rows.append(
            (
                "on" if c.deletion_vectors else "off",
                c.touch,
                int(c.med("source_rows")),
                int(c.med("updated")),
                int(c.med("inserted")),
                int(c.med("copied")),
                f"{c.rows_amplification:.2f}x",
                int(c.med("files_added")),
                int(c.med("files_removed")),
                int(c.med("dvs_added") + c.med("dvs_updated")),
                c.med("data_bytes") / 1024,
                c.med("dv_bytes") / 1024,
                c.med("log_bytes") / 1024,
                c.bytes_per_row,
                c.append_bytes_per_row,
                f"{c.bytes_amplification:.2f}x",
                c.med("execution_s"),
            )
        )
    print(
        markdown_table(
            [
                "DVs",
                "touched",
                "source rows",
                "updated",
                "inserted",
                "copied",
                "rows written / input row",
                "files added",
                "files removed",
                "DVs written",
                "data KiB",
                "DV KiB",
                "log KiB",
                "bytes / input row",
                "append bytes / row",
                "bytes vs append",
                "merge s",
            ],
            rows,
        )
    )
    for touch in sorted(args.touch):
        on = next(c for c in configs if c.deletion_vectors and c.touch == touch)
        off = next(c for c in configs if not c.deletion_vectors and c.touch == touch)
        worst = max(on.rows_amplification, on.bytes_amplification)
        print(
            f"touch {touch:,}: DVs on {on.rows_amplification:.2f}x rows, "
            f"{on.bytes_amplification:.2f}x bytes -> target <= {TARGET_AMPLIFICATION:.0f}x "
            f"{verdict(worst, TARGET_AMPLIFICATION)}; DVs off {off.rows_amplification:.1f}x rows, "
            f"{off.bytes_amplification:.1f}x bytes ({off.bytes_per_row / on.bytes_per_row:.1f}x "
            f"the bytes of DVs on); merge time off/on "
            f"{off.med('execution_s') / on.med('execution_s'):.2f}x"
        )
    print(
        f"\ntotal {time.monotonic() - started:.0f} s; machine: {os.cpu_count()} cores, mean "
        f"1-min load average {load.mean():.1f} (peak {load.peak():.1f}); row and byte counts "
        "do not depend on load, times do"
    )


if __name__ == "__main__":
    main()
