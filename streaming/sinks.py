"""Idempotent Delta writes of the stream: each is keyed by (app id, batch id), so replaying a
micro-batch after a crash commits nothing twice."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from delta.exceptions import (
    ConcurrentAppendException,
    ConcurrentDeleteReadException,
    ConcurrentTransactionException,
    ConcurrentWriteException,
    DeltaConcurrentModificationException,
    MetadataChangedException,
)
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

log = logging.getLogger(__name__)
T = TypeVar("T")

_TXN_APP = "spark.databricks.delta.write.txnAppId"
# Commit conflicts with a concurrent writer (stream vs. batch rescore): nothing of the
# losing write was committed, so it can simply run again. (The Python exception classes do
# not share a base, hence the list.)
CONFLICTS = (
    DeltaConcurrentModificationException,
    ConcurrentWriteException,
    ConcurrentAppendException,
    ConcurrentDeleteReadException,
    ConcurrentTransactionException,
    MetadataChangedException,
)
_TXN_VERSION = "spark.databricks.delta.write.txnVersion"


def ensure_table(
    spark: SparkSession, path: Path, schema: StructType, partition_by: tuple[str, ...] = ()
) -> None:
    if (path / "_delta_log").is_dir():
        # Already there: skip the builder, which costs a Delta transaction per table at
        # every start.
        return
    builder = DeltaTable.createIfNotExists(spark).location(str(path)).addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    builder.property("delta.enableDeletionVectors", "true").execute()


def append(df: DataFrame, path: Path, app_id: str, batch_id: int) -> None:
    (
        df.write.format("delta")
        .mode("append")
        .option("txnAppId", app_id)
        .option("txnVersion", str(batch_id))
        .save(str(path))
    )


@contextmanager
def _txn(spark: SparkSession, app_id: str, batch_id: int) -> Iterator[None]:
    # A MERGE takes its idempotency key from the session; left set, it would make the next
    # MERGE on the session look like a replay and be skipped.
    spark.conf.set(_TXN_APP, app_id)
    spark.conf.set(_TXN_VERSION, str(batch_id))
    try:
        yield
    finally:
        spark.conf.unset(_TXN_APP)
        spark.conf.unset(_TXN_VERSION)


def upsert(
    source: DataFrame,
    path: Path,
    key: str,
    update: Mapping[str, str],
    app_id: str,
    batch_id: int,
) -> None:
    """MERGE `source` (alias s) into the table (alias t) on `key`, once per (app id, batch).

    The idempotency key is set on the source's own session: inside foreachBatch that is the
    query's private clone, which is the session the MERGE runs in; a key set on another
    session would be silently ignored, and one set on a shared session would leak into the
    other query's writes.
    """
    spark = source.sparkSession

    def merge() -> None:
        with _txn(spark, app_id, batch_id):
            (
                DeltaTable.forPath(spark, str(path))
                .alias("t")
                .merge(source.alias("s"), f"t.{key} = s.{key}")
                .whenMatchedUpdate(set=dict(update))
                .whenNotMatchedInsertAll()
                .execute()
            )

    retry_on_conflict(merge, f"MERGE into {path.name}", backoff_s=1.0)


def retry_on_conflict(
    write: Callable[[], T], what: str, attempts: int = 5, backoff_s: float = 0.5
) -> T:
    """Runs `write`, again on a commit conflict with a concurrent writer (up to `attempts`,
    waiting `backoff_s` times the attempt number in between)."""
    for attempt in range(1, attempts + 1):
        try:
            return write()
        except CONFLICTS as exc:
            if attempt == attempts:
                raise
            log.warning(
                "%s conflicted (attempt %d), retrying: %s",
                what,
                attempt,
                str(exc).splitlines()[0],
            )
            time.sleep(backoff_s * attempt)
    raise AssertionError("unreachable")
