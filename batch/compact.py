"""`segstream compact`: compacts the lake's tables (Delta OPTIMIZE, then VACUUM).

Every stream batch adds a small file to each table it writes, and each MERGE adds deletion
vectors to the files of the customers it touched; left alone, every read and every MERGE
scan pays for hundreds of small files. Compaction rewrites them into few files, dropping
the rows that deletion vectors mark as gone, and commits that as one Delta transaction:
readers and the stream go on, and a stream MERGE that collides with it retries. The files
it replaced stay on disk for time travel until VACUUM deletes those older than the
retention (`SEGSTREAM_COMPACT_RETENTION_H`, Delta's 7 days by default). A retention below
Delta's 168 h is taken as asked: Delta's guard is lifted for that VACUUM only (a reader of
an older version, or time travel past the retention, may then find its files gone).

Each table is compacted on its own: one that fails is reported with its error and the
others are still compacted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from delta.tables import DeltaTable
from py4j.protocol import Py4JError
from pyspark.errors import PySparkException
from pyspark.sql import SparkSession

from segstream.config import Settings
from segstream.contracts import tables
from segstream.errors import SegstreamError
from segstream.lake import reads, writes

log = logging.getLogger(__name__)

RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
# Delta refuses a shorter VACUUM retention while its check is on.
DELTA_MIN_RETENTION_H = 168.0

# The tables the stream writes every batch first: they are the ones that fragment.
TABLES = (
    tables.CUSTOMER_RFM,
    tables.CUSTOMER_SEGMENTS,
    tables.EVENTS,
    tables.SEGMENT_HISTORY,
    tables.QUARANTINE,
    tables.STREAM_METRICS,
    tables.CUSTOMERS,
    tables.SEGMENT_SNAPSHOTS,
    tables.DRIFT,
)


class CompactionError(SegstreamError):
    """Some tables could not be compacted (the others were)."""


@dataclass(frozen=True)
class Compacted:
    """What compacting one table did; `error` names why it failed, if it did."""

    table: str
    files_removed: int = 0
    files_added: int = 0
    error: str | None = None


def compact_table(spark: SparkSession, settings: Settings, name: str) -> Compacted:
    path = str(settings.table_path(name))
    metrics = writes.retry_on_conflict(
        lambda: DeltaTable.forPath(spark, path).optimize().executeCompaction().collect()[0],
        f"compacting {name}",
    ).metrics
    _vacuum(spark, path, settings.compact_retention_h)
    return Compacted(name, int(metrics.numFilesRemoved), int(metrics.numFilesAdded))


def _vacuum(spark: SparkSession, path: str, hours: float) -> None:
    if hours >= DELTA_MIN_RETENTION_H:
        DeltaTable.forPath(spark, path).vacuum(hours)
        return
    before = spark.conf.get(RETENTION_CHECK, None)
    spark.conf.set(RETENTION_CHECK, "false")
    try:
        DeltaTable.forPath(spark, path).vacuum(hours)
    finally:
        if before is None:
            spark.conf.unset(RETENTION_CHECK)
        else:
            spark.conf.set(RETENTION_CHECK, before)


def run(spark: SparkSession, settings: Settings) -> list[Compacted]:
    """Compacts every table of the lake that exists; returns what each compaction did,
    failures included."""
    done = []
    for name in TABLES:
        if not reads.exists(settings, name):
            continue
        try:
            result = compact_table(spark, settings, name)
        except (PySparkException, Py4JError) as exc:
            text = str(exc).strip()
            first = text.splitlines()[0] if text else type(exc).__name__
            log.error("compacting %s failed: %s", name, first)
            done.append(Compacted(name, error=first))
            continue
        if result.files_removed:
            log.info(
                "compacted %s: %d files into %d",
                name,
                result.files_removed,
                result.files_added,
            )
        done.append(result)
    return done


def check(results: list[Compacted]) -> None:
    """Raises `CompactionError` naming every table whose compaction failed."""
    failed = [c for c in results if c.error is not None]
    if failed:
        named = "; ".join(f"{c.table}: {c.error}" for c in failed)
        raise CompactionError(f"{len(failed)} of {len(results)} tables not compacted: {named}")
