"""Creating and writing the lake's Delta tables: create if missing, append, upsert (MERGE),
each optionally idempotent, and a retry for commit conflicts between concurrent writers.

Idempotency is Delta's: a write keyed by `Txn(app_id, version)` commits only if the table has
not yet seen that app id at that version or a later one, so a writer that replays its unit
of work after a crash (the stream's micro-batch, a rescore pinned to a table version) commits
nothing twice.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from delta.exceptions import (
    ConcurrentAppendException,
    ConcurrentDeleteReadException,
    ConcurrentTransactionException,
    ConcurrentWriteException,
    DeltaConcurrentModificationException,
    MetadataChangedException,
    ProtocolChangedException,
)
from delta.tables import DeltaTable
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession

from segstream.config import Settings
from segstream.contracts.tables import table
from segstream.lake.reads import is_table

log = logging.getLogger(__name__)
T = TypeVar("T")

# Commit conflicts with a concurrent writer (stream vs. batch job vs. compaction): nothing of
# the losing write was committed, so it can simply run again. (The Python exception classes
# do not share a base, hence the list.)
CONFLICTS = (
    DeltaConcurrentModificationException,
    ConcurrentWriteException,
    ConcurrentAppendException,
    ConcurrentDeleteReadException,
    ConcurrentTransactionException,
    MetadataChangedException,
    ProtocolChangedException,
)
# How long a writer that lost the race to create a table waits for the winner's first commit:
# generous, since the wait ends as soon as the commit is there and only a folder that never
# becomes a table waits it out.
_CREATE_WAIT_S = 10.0
_TXN_APP = "spark.databricks.delta.write.txnAppId"
_TXN_VERSION = "spark.databricks.delta.write.txnVersion"


@dataclass(frozen=True)
class Txn:
    """The idempotency key of one write: the writer's app id and its unit of work's number."""

    app_id: str
    version: int


def ensure(spark: SparkSession, settings: Settings, name: str) -> Path:
    """Creates the catalogue's table `name` under the lake if it is missing; returns its path."""
    spec = table(name)
    path = settings.table_path(name)
    if is_table(path):
        # Already there: skip the builder, which costs a Delta transaction per table.
        return path
    builder = DeltaTable.createIfNotExists(spark).location(str(path)).addColumns(spec.schema)
    if spec.partition_by:
        builder = builder.partitionedBy(*spec.partition_by)
    for key, value in spec.properties.items():
        builder = builder.property(key, value)
    try:
        retry_on_conflict(builder.execute, f"creating {name}")
    except AnalysisException as exc:
        # Only reached when the table was missing a moment ago. Two processes starting on a
        # fresh lake (the stream and the scheduler both need `models`) can both create it; a
        # loser whose commit conflicts is retried above and finds the table, but a loser can
        # also fail without a conflict: when it finds the winner's log folder before that
        # one's first commit, Delta says the table is not found, or that the folder is not
        # empty and not a Delta table. The table it wanted may be there now: then the only
        # question left is whether it has this catalogue's columns.
        if not _committed_soon(path):
            raise
        found = [(f.name, f.dataType) for f in spark.read.format("delta").load(str(path)).schema]
        if found != [(f.name, f.dataType) for f in spec.schema]:
            raise
        log.info("%s was created by a concurrent writer (%s)", name, exc.getCondition())
    return path


def _committed_soon(path: Path) -> bool:
    deadline = time.monotonic() + _CREATE_WAIT_S
    while not is_table(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def ensure_all(spark: SparkSession, settings: Settings, names: Iterable[str]) -> None:
    for name in names:
        ensure(spark, settings, name)


def append(df: DataFrame, path: Path, txn: Txn | None = None) -> None:
    """Appends `df`. Delivery: exactly once per `txn` when given, else at least once."""
    writer = df.write.format("delta").mode("append")
    if txn is not None:
        writer = writer.option("txnAppId", txn.app_id).option("txnVersion", str(txn.version))
    writer.save(str(path))


@contextmanager
def _session_txn(spark: SparkSession, txn: Txn | None) -> Iterator[None]:
    # A MERGE takes its idempotency key from the session; left set, it would make the next
    # MERGE on the session look like a replay and be skipped.
    if txn is None:
        yield
        return
    spark.conf.set(_TXN_APP, txn.app_id)
    spark.conf.set(_TXN_VERSION, str(txn.version))
    try:
        yield
    finally:
        spark.conf.unset(_TXN_APP)
        spark.conf.unset(_TXN_VERSION)


def upsert(
    source: DataFrame,
    path: Path,
    key: str,
    update: Mapping[str, str | Column],
    *,
    txn: Txn | None = None,
    condition: str | None = None,
    insert: Literal["all", "none"] | Mapping[str, str | Column] = "all",
    backoff_s: float = 0.5,
) -> None:
    """MERGE `source` (alias s) into the table (alias t) on `key`, retried on conflicts.

    Delivery: exactly once per `txn` when given; without one the update must be safe to
    repeat (e.g. guarded by `condition`).

    Args:
        update: target column -> expression for a matched row.
        txn: the idempotency key. It is set on the source's own session: inside
            foreachBatch that is the query's private clone, which is the session the MERGE
            runs in; a key set on another session would be silently ignored.
        condition: only matched rows for which this holds are updated.
        insert: unmatched source rows: every column ("all"), none, or these values.
        backoff_s: the first wait before a retry (see `retry_on_conflict`).
    """
    spark = source.sparkSession

    def merge() -> None:
        with _session_txn(spark, txn):
            builder = (
                DeltaTable.forPath(spark, str(path))
                .alias("t")
                .merge(source.alias("s"), f"t.{key} = s.{key}")
                .whenMatchedUpdate(condition=condition, set=dict(update))
            )
            if insert == "all":
                builder = builder.whenNotMatchedInsertAll()
            elif insert != "none":
                builder = builder.whenNotMatchedInsert(values=dict(insert))
            builder.execute()

    retry_on_conflict(merge, f"MERGE into {path.name}", backoff_s=backoff_s)


def retry_on_conflict(
    write: Callable[[], T], what: str, attempts: int = 5, backoff_s: float = 0.5
) -> T:
    """Runs `write`, again on a commit conflict with a concurrent writer (up to `attempts`).

    The wait before attempt n+1 is `backoff_s * n`, scaled by a random factor in [0.5, 1.5):
    two writers that conflicted once would otherwise retry in lockstep and conflict again.
    """
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
            time.sleep(backoff_s * attempt * (0.5 + random.random()))
    raise AssertionError("unreachable")
