"""`segstream verify`: recompute every customer's RFM aggregates from `events` and compare
with `customer_rfm`.

The recompute is written independently of the stream's running totals
(streaming/customer_state.py): it treats the distinct events (by event_id) as the truth,
aggregates purchases and returns separately and joins them, so a bug in one is not repeated
in the other. Run it while the stream is idle (or after `segstream stream --once`): a batch
in flight may have written `events` but not yet `customer_rfm`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segstream.config import Settings
from segstream.contracts import tables
from segstream.contracts.events import TOTAL_MONEY
from segstream.lake import reads

log = logging.getLogger(__name__)

COMPARED = (
    "first_purchase_at",
    "last_purchase_at",
    "orders",
    "gross_revenue",
    "returns_amount",
    "monetary",
    "items",
    "last_event_at",
)


@dataclass(frozen=True)
class Difference:
    customer_id: str
    columns: tuple[str, ...]
    expected: dict[str, object]
    actual: dict[str, object]


@dataclass(frozen=True)
class VerifyResult:
    customers: int
    differing: int
    sample: tuple[Difference, ...]

    @property
    def ok(self) -> bool:
        return self.differing == 0


def recompute(events: DataFrame) -> DataFrame:
    """Per-customer RFM aggregates from raw events, one row per customer with any event."""
    distinct = events.dropDuplicates(["event_id"])
    purchases = (
        distinct.where(F.col("event_type") == "purchase")
        .groupBy("customer_id")
        .agg(
            F.min("event_time").alias("first_purchase_at"),
            F.max("event_time").alias("last_purchase_at"),
            F.countDistinct("event_id").alias("orders"),
            F.sum("amount").alias("gross_revenue"),
            F.sum("item_count").alias("items"),
        )
    )
    returns = (
        distinct.where(F.col("event_type") == "return")
        .groupBy("customer_id")
        .agg(F.sum("amount").alias("returns_amount"))
    )
    last = distinct.groupBy("customer_id").agg(F.max("event_time").alias("last_event_at"))
    zero = F.lit(0).cast(TOTAL_MONEY)
    gross = F.coalesce(F.col("gross_revenue"), zero)
    back = F.coalesce(F.col("returns_amount"), zero)
    return (
        last.join(purchases, "customer_id", "left")
        .join(returns, "customer_id", "left")
        .select(
            "customer_id",
            "first_purchase_at",
            "last_purchase_at",
            F.coalesce(F.col("orders"), F.lit(0)).cast("long").alias("orders"),
            gross.cast(TOTAL_MONEY).alias("gross_revenue"),
            back.cast(TOTAL_MONEY).alias("returns_amount"),
            (gross - back).cast(TOTAL_MONEY).alias("monetary"),
            F.coalesce(F.col("items"), F.lit(0)).cast("long").alias("items"),
            "last_event_at",
        )
    )


def differences(expected: DataFrame, actual: DataFrame) -> DataFrame:
    """Customers whose compared columns differ (null-safe), or who are on one side only.

    Columns: customer_id, `columns` (array of differing column names; `missing` when the
    customer is absent from `actual`, `unexpected` when absent from `expected`), and each
    compared column as e_<name> and a_<name>.
    """
    e = expected.select("customer_id", *[F.col(c).alias(f"e_{c}") for c in COMPARED]).withColumn(
        "_e", F.lit(True)
    )
    a = actual.select("customer_id", *[F.col(c).alias(f"a_{c}") for c in COMPARED]).withColumn(
        "_a", F.lit(True)
    )
    joined = e.join(a, "customer_id", "full_outer")
    flags = [
        F.when(F.col("_a").isNull(), F.lit("missing")),
        F.when(F.col("_e").isNull(), F.lit("unexpected")),
        *[
            F.when(
                F.col("_e").isNotNull()
                & F.col("_a").isNotNull()
                & ~F.col(f"e_{c}").eqNullSafe(F.col(f"a_{c}")),
                F.lit(c),
            )
            for c in COMPARED
        ],
    ]
    return joined.select(
        "customer_id",
        F.filter(F.array(*flags), lambda x: x.isNotNull()).alias("columns"),
        *[F.col(f"e_{c}") for c in COMPARED],
        *[F.col(f"a_{c}") for c in COMPARED],
    ).where(F.size("columns") > 0)


def run(spark: SparkSession, settings: Settings, show: int | None = None) -> VerifyResult:
    """Compares `customer_rfm` with a recompute from `events`.

    Raises:
        segstream.lake.reads.MissingDataError: either table does not exist.
    """
    events = reads.read(spark, settings, tables.EVENTS)
    if events is None:
        raise reads.MissingDataError(f"no {tables.EVENTS} table under {settings.lake}")
    actual = reads.customer_rfm(spark, settings)
    expected = recompute(events).persist()
    try:
        diff = differences(expected, actual).persist()
        customers = expected.count()
        differing = diff.count()
        rows = diff.orderBy("customer_id").limit(show or settings.verify_show).collect()
        diff.unpersist()
    finally:
        expected.unpersist()
    sample = tuple(
        Difference(
            r["customer_id"],
            tuple(r["columns"]),
            {c: r[f"e_{c}"] for c in r["columns"] if c in COMPARED},
            {c: r[f"a_{c}"] for c in r["columns"] if c in COMPARED},
        )
        for r in rows
    )
    log.info("verify: %d customers recomputed, %d differ", customers, differing)
    return VerifyResult(customers, differing, sample)
