"""Segment snapshots: every segment's size and profile at one time, appended to
`segment_snapshots` under one snapshot id.

A snapshot assigns every customer of `customer_rfm` with the given model at the as-of time
(the population as that model sees it then), so a reference snapshot taken at training and
a later scheduled one differ only by the data. Kinds: `reference` (taken when a model is
trained; drift compares against it) and `scheduled` (every snapshot interval, or on demand).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from batch import profiles
from segstream.config import Settings
from segstream.contracts import tables
from segstream.lake import reads, writes
from segstream.lake.times import as_of_column, from_micros
from segstream.model import segments
from segstream.model.features import AVG_ORDER_VALUE
from segstream.model.record import SegmentModel

log = logging.getLogger(__name__)

Kind = Literal["reference", "scheduled"]
_STATS = (
    "recency_mean",
    "recency_median",
    "frequency_mean",
    "frequency_median",
    "monetary_mean",
    "monetary_median",
)


@dataclass(frozen=True)
class Snapshot:
    """One snapshot's identity and segment shares."""

    snapshot_id: str
    snapshot_time: datetime
    kind: str
    model_version: int
    shares: dict[int, float]


def rows(
    meta: Snapshot,
    as_of: datetime,
    model: SegmentModel,
    stats: dict[int, dict[str, float | None]],
    categories: dict[int, list[dict[str, Any]]],
    pattern: dict[int, list[list[int]]],
    mixes: dict[int, dict[str, dict[str, float]]],
    tests: dict[str, Any],
) -> list[dict[str, Any]]:
    """One `segment_snapshots` row per model segment (empty segments included, share 0)."""
    total = sum(int(s.get("customers") or 0) for s in stats.values())
    revenue = sum(float(s.get("revenue") or 0.0) for s in stats.values())
    out = []
    for seg, name in zip(model.segment_ids, model.segment_names, strict=True):
        s = stats.get(seg, {})
        n = int(s.get("customers") or 0)
        row: dict[str, Any] = {
            "snapshot_id": meta.snapshot_id,
            "snapshot_time": meta.snapshot_time,
            "kind": meta.kind,
            "model_version": model.version,
            "as_of": as_of,
            "segment_id": seg,
            "segment_name": name,
            "customers": n,
            "share": n / total if total else 0.0,
            "avg_order_value": s.get(AVG_ORDER_VALUE),
            "revenue": float(s.get("revenue") or 0.0),
            "revenue_share": float(s.get("revenue") or 0.0) / revenue if revenue else 0.0,
            "top_categories": json.dumps(categories.get(seg, [])),
            "demographics": json.dumps(mixes.get(seg, {}), sort_keys=True),
            "demographic_tests": json.dumps(tests, sort_keys=True),
            "purchase_pattern": json.dumps(pattern.get(seg, [[0] * 24 for _ in range(7)])),
        }
        row.update({k: s.get(k) for k in _STATS})
        out.append(row)
    return out


def take(
    spark: SparkSession,
    settings: Settings,
    model: SegmentModel,
    kind: Kind,
    as_of: datetime | None = None,
) -> Snapshot:
    """Profiles every segment of `model` over the lake's data and appends the snapshot."""
    rfm = reads.customer_rfm(spark, settings)
    as_of = as_of or reads.data_as_of(rfm)
    assigned = segments.assigned(rfm, model, as_of).persist()
    try:
        stats = profiles.segment_stats(assigned)
        events = reads.read(spark, settings, tables.EVENTS)
        categories: dict[int, list[dict[str, Any]]] = {}
        pattern: dict[int, list[list[int]]] = {}
        if events is not None:
            purchases = profiles.window_purchases(events, as_of, settings.profile_window_days)
            categories = profiles.top_categories(
                purchases, assigned, settings.profile_top_categories
            )
            pattern = profiles.purchase_pattern(purchases, assigned)
        customers = reads.read(spark, settings, tables.CUSTOMERS)
        counts = profiles.demographic_counts(customers, assigned, as_of.year)
        mixes, tests = profiles.demographic_summary(counts, model.segment_ids)
    finally:
        assigned.unpersist()
    total = sum(int(s.get("customers") or 0) for s in stats.values())
    meta = Snapshot(
        snapshot_id=uuid.uuid4().hex,
        snapshot_time=datetime.now(UTC),
        kind=kind,
        model_version=model.version,
        shares={
            seg: (int(stats.get(seg, {}).get("customers") or 0) / total if total else 0.0)
            for seg in model.segment_ids
        },
    )
    body = rows(meta, as_of, model, stats, categories, pattern, mixes, tests)
    path = writes.ensure(spark, settings, tables.SEGMENT_SNAPSHOTS)
    frame = spark.createDataFrame(
        [tuple(r[f.name] for f in tables.SEGMENT_SNAPSHOTS_SCHEMA.fields) for r in body],
        tables.SEGMENT_SNAPSHOTS_SCHEMA,
    )
    writes.append(frame, path)
    log.info(
        "snapshot %s (%s, model v%d): %d customers in %d segments",
        meta.snapshot_id,
        kind,
        model.version,
        total,
        len(model.segment_ids),
    )
    return meta


def find(
    spark: SparkSession,
    settings: Settings,
    model_version: int | None = None,
    kind: Kind | None = None,
    before: datetime | None = None,
) -> Snapshot | None:
    """The newest snapshot matching the filters, or None."""
    df = reads.read(spark, settings, tables.SEGMENT_SNAPSHOTS)
    if df is None:
        return None
    if model_version is not None:
        df = df.where(F.col("model_version") == model_version)
    if kind is not None:
        df = df.where(F.col("kind") == kind)
    if before is not None:
        df = df.where(F.col("snapshot_time") < as_of_column(before))
    head = (
        df.groupBy("snapshot_id")
        .agg(F.max(F.unix_micros("snapshot_time")).alias("t"))
        .orderBy(F.col("t").desc(), F.col("snapshot_id"))
        .limit(1)
        .collect()
    )
    if not head:
        return None
    sid = head[0]["snapshot_id"]
    seg_rows = df.where(F.col("snapshot_id") == sid).collect()
    first = seg_rows[0]
    return Snapshot(
        snapshot_id=sid,
        snapshot_time=from_micros(int(head[0]["t"])),
        kind=first["kind"],
        model_version=int(first["model_version"]),
        shares={int(r["segment_id"]): float(r["share"]) for r in seg_rows},
    )
