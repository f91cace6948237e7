"""Creating and writing the lake's Delta tables: create if missing, append, upsert (MERGE),
each optionally idempotent, and a retry for commit conflicts between concurrent writers.

Idempotency is Delta's: a write keyed by `Txn(app_id, version)` commits only if the table has
not yet seen that app id at that version or a later one, so a writer that replays its unit
of work after a crash (the stream's micro-batch, a rescore pinned to a table version) commits
nothing twice.

Tables are created and appended to by Spark, and upserted by delta-rs from the driver: the
source is collected as Arrow and merged in one process. The MERGE is the lake part's
costliest step, and Spark's took 1.5-2.2 s for 1,000-20,000 rows into a 20,000-row table on
an idle machine (bench/merge_cost.py) where delta-rs takes ~0.05 s; both engines write the
same Delta protocol, see each other's commits and idempotency keys, and delta-rs applies
the deletion vectors that Spark's writes leave.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

import pyarrow as pa  # type: ignore[import-untyped]
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
from deltalake import DeltaTable as RustDeltaTable
from deltalake.exceptions import CommitFailedError
from deltalake.transaction import CommitProperties, Transaction
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession

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
    CommitFailedError,
)
# How long a writer that lost the race to create a table waits for the winner's first commit:
# generous, since the wait ends as soon as the commit is there and only a folder that never
# becomes a table waits it out.
_CREATE_WAIT_S = 10.0


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


def upsert(
    source: DataFrame | pa.Table,
    path: Path,
    key: str,
    update: Mapping[str, str],
    *,
    txn: Txn | None = None,
    condition: str | None = None,
    insert: Literal["all", "none"] | Mapping[str, str] = "all",
    backoff_s: float = 0.5,
) -> dict[str, int]:
    """MERGE `source` (alias s) into the table (alias t) on `key`, retried on conflicts;
    returns the MERGE's metrics (`num_target_rows_updated`, ...), empty when `txn` was
    already committed.

    A DataFrame source is collected to the driver, so it must fit there: a batch's newest
    records, one row per customer at most. An Arrow source must have the table's column types.

    Args:
        update: target column -> SQL expression for a matched row.
        txn: the idempotency key: the MERGE is skipped when the table has seen its app id at
            its version or a later one.
        condition: only matched rows for which this SQL condition holds are updated.
        insert: unmatched source rows: every column ("all"), none, or these SQL expressions.
        backoff_s: the first wait before a retry (see `retry_on_conflict`).
    """
    rows: pa.Table | None = None
    commit = (
        CommitProperties(app_transactions=[Transaction(txn.app_id, txn.version)])
        if txn is not None
        else None
    )

    def merge() -> dict[str, int]:
        target = RustDeltaTable(str(path))
        if txn is not None:
            seen = target.transaction_version(txn.app_id)
            if seen is not None and seen >= txn.version:
                return {}
        nonlocal rows
        if rows is None:
            rows = source if isinstance(source, pa.Table) else source.toArrow()
        merger = target.merge(
            rows,
            f"t.{key} = s.{key}",
            source_alias="s",
            target_alias="t",
            commit_properties=commit,
        ).when_matched_update(updates=dict(update), predicate=condition)
        if insert == "all":
            merger = merger.when_not_matched_insert_all()
        elif insert != "none":
            merger = merger.when_not_matched_insert(updates=dict(insert))
        return {k: int(v) for k, v in merger.execute().items() if isinstance(v, int)}

    return retry_on_conflict(merge, f"MERGE into {path.name}", backoff_s=backoff_s)


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
