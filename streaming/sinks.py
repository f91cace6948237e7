"""Idempotent Delta writes of the stream: each is keyed by (app id, batch id), so replaying a
micro-batch after a crash commits nothing twice."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

_TXN_APP = "spark.databricks.delta.write.txnAppId"
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
    with _txn(spark, app_id, batch_id):
        (
            DeltaTable.forPath(spark, str(path))
            .alias("t")
            .merge(source.alias("s"), f"t.{key} = s.{key}")
            .whenMatchedUpdate(set=dict(update))
            .whenNotMatchedInsertAll()
            .execute()
        )
