"""Per-segment profiles as Spark aggregations; each returns a small Python structure.

Input is a frame of assigned customers (segstream.model.segments.assigned: customer_id, segment_id,
features, orders, gross_revenue). Only per-segment aggregates reach the driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from batch import demographics
from segstream.lake.times import as_of_column
from segstream.model.features import AVG_ORDER_VALUE, FREQUENCY, MONETARY, RECENCY

DEMOGRAPHICS = ("age_band", "gender", "country", "income_band")


def segment_stats(assigned: DataFrame) -> dict[int, dict[str, float | None]]:
    """Size, mean and median R/F/M, segment AOV and revenue (net monetary) per segment."""
    rows = (
        assigned.groupBy("segment_id")
        .agg(
            F.count(F.lit(1)).alias("customers"),
            F.avg(RECENCY).alias("recency_mean"),
            F.median(RECENCY).alias("recency_median"),
            F.avg(FREQUENCY).alias("frequency_mean"),
            F.median(FREQUENCY).alias("frequency_median"),
            F.avg(MONETARY).alias("monetary_mean"),
            F.median(MONETARY).alias("monetary_median"),
            # The segment's AOV is its revenue per order, not a mean of customers' AOVs.
            F.try_divide(F.sum("gross_revenue"), F.sum("orders")).alias(AVG_ORDER_VALUE),
            F.sum(MONETARY).alias("revenue"),
        )
        .collect()
    )
    return {
        int(r["segment_id"]): {
            k: (None if v is None else float(v)) for k, v in r.asDict().items() if k != "segment_id"
        }
        for r in rows
    }


def window_purchases(events: DataFrame, as_of: datetime, days: int) -> DataFrame:
    """Purchase events of the `days` before `as_of` (the event_date filter prunes partitions)."""
    start = as_of - timedelta(days=days)
    return events.where(
        (F.col("event_type") == "purchase")
        & (F.col("event_date") >= F.lit(start.date()))
        & (F.col("event_time") > as_of_column(start))
        & (F.col("event_time") <= as_of_column(as_of))
    )


def top_categories(
    purchases: DataFrame, assigned: DataFrame, n: int
) -> dict[int, list[dict[str, Any]]]:
    """The `n` categories with most item revenue in each segment, with their share of it."""
    items = purchases.select("customer_id", F.explode("items").alias("item")).join(
        assigned.select("customer_id", "segment_id"), "customer_id"
    )
    rows = (
        items.groupBy(
            "segment_id", F.coalesce(F.col("item.category"), F.lit("unknown")).alias("category")
        )
        .agg(
            F.sum(F.col("item.quantity") * F.col("item.unit_price"))
            .cast("double")
            .alias("revenue"),
            F.sum("item.quantity").alias("units"),
        )
        .collect()
    )
    per: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        per.setdefault(int(r["segment_id"]), []).append(
            {
                "category": r["category"],
                "revenue": float(r["revenue"] or 0.0),
                "units": int(r["units"] or 0),
            }
        )
    out: dict[int, list[dict[str, Any]]] = {}
    for seg, cats in per.items():
        total = sum(c["revenue"] for c in cats) or 1.0
        ranked = sorted(cats, key=lambda c: (-c["revenue"], c["category"]))[:n]
        out[seg] = [{**c, "share": c["revenue"] / total} for c in ranked]
    return out


def purchase_pattern(purchases: DataFrame, assigned: DataFrame) -> dict[int, list[list[int]]]:
    """Purchases per weekday (Monday = row 0) and UTC hour (column) in each segment."""
    weekday = ((F.dayofweek("event_time") + 5) % 7).alias("weekday")  # Spark: 1 = Sunday
    rows = (
        purchases.join(assigned.select("customer_id", "segment_id"), "customer_id")
        .groupBy("segment_id", weekday, F.hour("event_time").alias("hour"))
        .count()
        .collect()
    )
    out: dict[int, list[list[int]]] = {}
    for r in rows:
        grid = out.setdefault(int(r["segment_id"]), [[0] * 24 for _ in range(7)])
        grid[int(r["weekday"])][int(r["hour"])] += int(r["count"])
    return out


def _age_band(birth_year: Column, year: int) -> Column:
    age = F.lit(year) - birth_year
    band: Column = F.lit(demographics.UNKNOWN)
    for lowest, label in demographics.AGE_BANDS:
        band = F.when(birth_year.isNotNull() & (age >= lowest), F.lit(label)).otherwise(band)
    return band


def demographic_counts(
    customers: DataFrame | None, assigned: DataFrame, year: int
) -> dict[str, dict[tuple[int, str], int]]:
    """Customers per (segment, value) of each demographic the `customers` table has."""
    if customers is None:
        return {}
    have = set(customers.columns)
    values: dict[str, Column] = {}
    if "birth_year" in have:
        values["age_band"] = _age_band(F.col("birth_year").cast("int"), year)
    for name in DEMOGRAPHICS[1:]:
        if name in have:
            values[name] = F.coalesce(F.col(name).cast("string"), F.lit(demographics.UNKNOWN))
    if not values:
        return {}
    profile = customers.select(
        "customer_id", *[c.alias(n) for n, c in values.items()]
    ).dropDuplicates(["customer_id"])
    joined = assigned.select("customer_id", "segment_id").join(profile, "customer_id", "left")
    out: dict[str, dict[tuple[int, str], int]] = {}
    for name in values:
        rows = (
            joined.groupBy(
                "segment_id", F.coalesce(F.col(name), F.lit(demographics.UNKNOWN)).alias("v")
            )
            .count()
            .collect()
        )
        counts = {(int(r["segment_id"]), str(r["v"])): int(r["count"]) for r in rows}
        if any(v != demographics.UNKNOWN for (_, v) in counts):
            out[name] = counts
    return out


def demographic_summary(
    counts: dict[str, dict[tuple[int, str], int]], segments: Sequence[int]
) -> tuple[dict[int, dict[str, dict[str, float]]], dict[str, Any]]:
    """Per-segment mix of each demographic, and the chi-square test of each against segment."""
    mixes: dict[int, dict[str, dict[str, float]]] = {s: {} for s in segments}
    tests: dict[str, Any] = {}
    for name, raw in counts.items():
        pooled = demographics.pool_rare(raw)
        for seg, shares in demographics.mix(pooled).items():
            mixes.setdefault(seg, {})[name] = shares
        _, _, table = demographics.contingency(pooled, segments)
        tests[name] = demographics.chi_square(table)
    return mixes, tests
