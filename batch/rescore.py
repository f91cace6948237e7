"""`segstream rescore`: re-assign every customer with the promoted model at the current as-of.

Recency ages while nobody buys, so a customer's segment can change without a new event;
this job catches them up. Everything stays in Spark (no collect), so it scales with the
cluster. Steps, against `customer_segments` pinned at one Delta version v:

1. score every `customer_rfm` row (features and nearest centroid as column expressions);
2. compare with the stored segment: a new customer or a different segment id is a change;
3. append the changes to `segment_history`, keyed for Delta's idempotent append by
   (app id, v): a re-run after a crash between steps 3 and 4 reads the same v and does not
   append them twice;
4. MERGE the model columns into `customer_segments` (the classic RFM score columns are
   left alone), retried on a concurrent write by the stream. A row the stream scored at a
   later as-of meanwhile is not overwritten (`t.as_of <= s.as_of`).

Cause of a change: the one given (`retrain` after a retrain), else per customer `retrain`
when the stored row came from another model version and `rescore` otherwise.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from batch import assign, lake
from segstream.config import Settings
from segstream.contracts import tables
from segstream.model import registry
from segstream.model.features import ALL_FEATURES
from segstream.model.record import SegmentModel
from streaming import sinks

log = logging.getLogger(__name__)

HISTORY_APP_ID = "segstream-rescore"


class NoModelError(RuntimeError):
    """There is no promoted model to score with."""


@dataclass(frozen=True)
class RescoreResult:
    model_version: int
    as_of: datetime
    customers: int
    changes: int
    seconds: float


def _cause(cause: str | None, version: int) -> Column:
    if cause is not None:
        return F.lit(cause)
    other_model = F.col("p.model_version").isNotNull() & (F.col("p.model_version") != version)
    return F.when(other_model, F.lit("retrain")).otherwise(F.lit("rescore"))


def compare(
    scored: DataFrame, previous: DataFrame, model: SegmentModel, as_of: datetime, cause: str | None
) -> DataFrame:
    """Scored customers with their stored segment (`p_` columns) and the cause of a change.

    Args:
        scored: batch.assign.assigned rows.
        previous: `customer_segments` rows (at least customer_id, segment_id, segment_name,
            model_version).
    """
    n, p = scored.alias("n"), previous.alias("p")
    joined = n.join(p, F.col("n.customer_id") == F.col("p.customer_id"), "left")
    cols: dict[str, Column] = {
        "customer_id": F.col("n.customer_id"),
        "segment_id": F.col("n.segment_id"),
        "segment_name": F.col("n.segment_name"),
        "model_version": F.lit(model.version).cast("long"),
        "distance": F.col("n.distance"),
        **{f: F.col(f"n.{f}") for f in ALL_FEATURES},
        "as_of": lake.as_of_column(as_of),
        "scored_at": F.current_timestamp(),
        "cause": _cause(cause, model.version),
        "p_segment_id": F.col("p.segment_id"),
        "p_segment_name": F.col("p.segment_name"),
    }
    return joined.select(*[c.alias(name) for name, c in cols.items()])


def history_rows(compared: DataFrame) -> DataFrame:
    """`segment_history` rows for the customers whose segment changed (or who are new)."""
    moved = compared.where(
        F.col("p_segment_id").isNull() | (F.col("p_segment_id") != F.col("segment_id"))
    )
    cols = {
        "customer_id": F.col("customer_id"),
        "from_segment_id": F.col("p_segment_id"),
        "from_segment_name": F.col("p_segment_name"),
        "to_segment_id": F.col("segment_id"),
        "to_segment_name": F.col("segment_name"),
        "cause": F.col("cause"),
        "model_version": F.col("model_version"),
        "event_time": F.col("as_of"),
        "processed_at": F.col("scored_at"),
        "batch_id": F.lit(None),
    }
    return moved.select(
        *[cols[f.name].cast(f.dataType).alias(f.name) for f in tables.SEGMENT_HISTORY_SCHEMA.fields]
    )


def merge_segments(spark: SparkSession, path: str, compared: DataFrame) -> None:
    """MERGE the model columns of `compared` into `customer_segments`, retrying on conflict."""
    source = compared.select(*tables.SEGMENT_MODEL_COLUMNS, "customer_id")
    update: dict[str, str | Column] = {c: f"s.{c}" for c in tables.SEGMENT_MODEL_COLUMNS}

    def write() -> None:
        (
            DeltaTable.forPath(spark, path)
            .alias("t")
            .merge(source.alias("s"), "t.customer_id = s.customer_id")
            .whenMatchedUpdate(condition="t.as_of <= s.as_of", set=update)
            .whenNotMatchedInsert(values={**update, "customer_id": "s.customer_id"})
            .execute()
        )

    sinks.retry_on_conflict(write, "customer_segments merge")


def run(
    spark: SparkSession,
    settings: Settings,
    model: SegmentModel | None = None,
    as_of: datetime | None = None,
    cause: str | None = None,
) -> RescoreResult:
    """Rescores every customer; see the module docstring for the steps.

    Args:
        model: the model to score with (default: the promoted one).
        as_of: the time recency is measured at (default: newest event time in the data).
        cause: the history cause of every change (default: per customer, see above).

    Raises:
        NoModelError: no model was given and none is promoted.
    """
    started = time.monotonic()
    model = model or registry.current(spark, settings)
    if model is None:
        raise NoModelError("no promoted model: run `segstream retrain` first")
    rfm = lake.customer_rfm(spark, settings)
    as_of = as_of or lake.data_as_of(rfm)
    seg_path = lake.ensure(spark, settings, tables.CUSTOMER_SEGMENTS)
    hist_path = lake.ensure(spark, settings, tables.SEGMENT_HISTORY)
    pinned = lake.version(spark, settings, tables.CUSTOMER_SEGMENTS)
    previous = lake.read(spark, settings, tables.CUSTOMER_SEGMENTS, version=pinned)
    assert previous is not None
    compared = compare(assign.assigned(rfm, model, as_of), previous, model, as_of, cause)
    compared = compared.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        customers = compared.count()
        history = history_rows(compared).persist(StorageLevel.MEMORY_AND_DISK)
        changes = history.count()
        (
            history.write.format("delta")
            .mode("append")
            .option("txnAppId", HISTORY_APP_ID)
            .option("txnVersion", str(pinned))
            .save(hist_path)
        )
        history.unpersist()
        merge_segments(spark, seg_path, compared)
    finally:
        compared.unpersist()
    result = RescoreResult(model.version, as_of, customers, changes, time.monotonic() - started)
    log.info(
        "rescored %d customers with model v%d as of %s: %d segment changes, %.1f s",
        customers,
        model.version,
        as_of.isoformat(),
        changes,
        result.seconds,
    )
    return result
