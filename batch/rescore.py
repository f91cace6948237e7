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

from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from segstream.config import Settings
from segstream.contracts import tables
from segstream.errors import SegstreamError
from segstream.lake import reads, writes
from segstream.model import registry, segments
from segstream.model.record import SegmentModel

log = logging.getLogger(__name__)

HISTORY_APP_ID = "segstream-rescore"


class NoModelError(SegstreamError):
    """There is no promoted model to score with."""


@dataclass(frozen=True)
class RescoreResult:
    model_version: int
    as_of: datetime
    customers: int
    changes: int
    seconds: float


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
    rfm = reads.customer_rfm(spark, settings)
    as_of = as_of or reads.data_as_of(rfm)
    seg_path = writes.ensure(spark, settings, tables.CUSTOMER_SEGMENTS)
    hist_path = writes.ensure(spark, settings, tables.SEGMENT_HISTORY)
    pinned = reads.version(spark, settings, tables.CUSTOMER_SEGMENTS)
    previous = reads.read(spark, settings, tables.CUSTOMER_SEGMENTS, version=pinned)
    assert previous is not None
    compared = segments.compare(rfm, previous, model, as_of, cause)
    compared = compared.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        customers = compared.count()
        history = segments.history_rows(compared, F.col("as_of"), batch_id=None)
        history = history.persist(StorageLevel.MEMORY_AND_DISK)
        changes = history.count()
        writes.append(history, hist_path, writes.Txn(HISTORY_APP_ID, pinned))
        history.unpersist()
        # A row the stream scored at a later as-of meanwhile is newer than this one.
        writes.upsert(
            segments.segment_rows(compared),
            seg_path,
            "customer_id",
            segments.SEGMENT_UPDATE,
            condition="t.as_of <= s.as_of",
            insert=segments.SEGMENT_INSERT,
        )
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
