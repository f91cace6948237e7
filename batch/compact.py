"""`segstream compact`: compacts the lake's tables (Delta OPTIMIZE, then VACUUM).

Every stream batch adds a small file to each table it writes, and each MERGE adds deletion
vectors to the files of the customers it touched; left alone, every read and every MERGE
scan pays for hundreds of small files. Compaction rewrites them into few files, dropping
the rows that deletion vectors mark as gone, and commits that as one Delta transaction:
readers and the stream go on, and a stream MERGE that collides with it retries. The files
it replaced stay on disk for time travel until VACUUM deletes those older than the
retention (`SEGSTREAM_COMPACT_RETENTION_H`, Delta's 7 days by default).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from segstream.config import Settings
from segstream.contracts import tables
from segstream.lake import reads, writes

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Compacted:
    table: str
    files_removed: int
    files_added: int


def compact_table(spark: SparkSession, settings: Settings, name: str) -> Compacted:
    path = str(settings.table_path(name))
    metrics = writes.retry_on_conflict(
        lambda: DeltaTable.forPath(spark, path).optimize().executeCompaction().collect()[0],
        f"compacting {name}",
    ).metrics
    DeltaTable.forPath(spark, path).vacuum(settings.compact_retention_h)
    return Compacted(name, int(metrics.numFilesRemoved), int(metrics.numFilesAdded))


def run(spark: SparkSession, settings: Settings) -> list[Compacted]:
    """Compacts every table of the lake that exists; returns what each compaction did."""
    done = []
    for name in TABLES:
        if not reads.exists(settings, name):
            continue
        result = compact_table(spark, settings, name)
        if result.files_removed:
            log.info(
                "compacted %s: %d files into %d",
                name,
                result.files_removed,
                result.files_added,
            )
        done.append(result)
    return done
