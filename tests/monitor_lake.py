"""A small lake with known contents for the monitor's tests, written by Spark the way the
system writes it: Delta tables with deletion vectors, segments moved by a MERGE, models
promoted by the registry's UPDATE, drift through the drift job's writer.

After `build`: 12 customers, Champions 4, At Risk 2, Lost 6; model v2 (k=3) promoted, v1
retired; one drift alert (feature_psi on recency_days, 0.4321); the stream's metrics with a
latest latency to the feed of 1.2 / 3.4 s and to Delta of 4.5 / 6.7 s (p50 / p95).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from batch import drift_job
from batch.drift_job import DriftReport, Measurement
from segstream.config import Settings
from segstream.contracts import tables
from segstream.lake import writes
from segstream.model import registry
from segstream.model.record import SegmentModel

AS_OF = datetime(2025, 1, 11, tzinfo=UTC)
CUSTOMERS = [f"c{i:02d}" for i in range(12)]
EXPECTED_SIZES = {"Champions": 4, "At Risk": 2, "Lost": 6}
# c00 and c01 start as Champions and are moved to At Risk by a MERGE.
MOVED = ("c00", "c01")
ALERT_VALUE = 0.4321


def _model(names: tuple[str, ...], trained: datetime) -> SegmentModel:
    return SegmentModel(
        version=0,
        trained_at=trained,
        as_of=trained,
        rows=len(CUSTOMERS),
        features=("recency_days", "frequency", "monetary"),
        transforms=("log1p", "log1p", "log1p"),
        mean=(1.0, 1.0, 1.0),
        std=(1.0, 1.0, 1.0),
        centroids=tuple((float(i), float(-i), float(i)) for i in range(len(names))),
        segment_ids=tuple(range(1, len(names) + 1)),
        segment_names=names,
        engine="sklearn",
        metrics={"silhouette": 0.5, "inertia": 2.0},
    )


def _segment_row(cid: str, seg: int, name: str) -> tuple[object, ...]:
    return (
        cid,
        seg,
        name,
        2,
        0.5,
        3.0,
        2.0,
        50.0,
        25.0,
        30.0,
        AS_OF,
        AS_OF,
        "purchase",
        None,
        None,
        None,
        None,
        None,
        None,
    )


def _write_rfm(spark: SparkSession, settings: Settings) -> None:
    rows = []
    for i, cid in enumerate(CUSTOMERS):
        last = AS_OF - timedelta(days=i)
        rows.append(
            (
                cid,
                last - timedelta(days=30),
                last,
                i + 1,
                Decimal("10.00") * (i + 1),
                Decimal("0.00"),
                Decimal("10.00") * (i + 1),
                i + 1,
                last,
                AS_OF,
            )
        )
    spark.createDataFrame(rows, tables.CUSTOMER_RFM_SCHEMA).write.format("delta").save(
        str(settings.table_path(tables.CUSTOMER_RFM))
    )


def _write_segments(spark: SparkSession, settings: Settings) -> None:
    path = str(writes.ensure(spark, settings, tables.CUSTOMER_SEGMENTS))
    first = [
        _segment_row(cid, 1, "Champions") if i < 6 else _segment_row(cid, 2, "Lost")
        for i, cid in enumerate(CUSTOMERS)
    ]
    # One file, so that the MERGE marks rows of it deleted instead of dropping whole files.
    frame = spark.createDataFrame(first, tables.CUSTOMER_SEGMENTS_SCHEMA).coalesce(1)
    frame.write.format("delta").mode("append").save(path)
    moved = spark.createDataFrame(
        [_segment_row(cid, 3, "At Risk") for cid in MOVED], tables.CUSTOMER_SEGMENTS_SCHEMA
    )
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(moved.alias("s"), "t.customer_id = s.customer_id")
        .whenMatchedUpdateAll()
        .execute()
    )


def _write_models(spark: SparkSession, settings: Settings) -> None:
    v1 = registry.register(spark, settings, _model(("Champions", "Lost"), AS_OF))
    registry.promote(spark, settings, v1.version)
    v2 = registry.register(
        spark, settings, _model(("Champions", "Lost", "At Risk"), AS_OF + timedelta(hours=1))
    )
    registry.promote(spark, settings, v2.version)


def _write_drift(spark: SparkSession, settings: Settings) -> None:
    report = DriftReport(
        "run-1",
        2,
        (
            Measurement("segment_share_psi", "all", 0.05, 0.1, 0.25, "snapshot:s1"),
            Measurement("feature_psi", "recency_days", ALERT_VALUE, 0.1, 0.25, "model:v2"),
            Measurement("feature_psi", "monetary", 0.15, 0.1, 0.25, "model:v2"),
        ),
    )
    drift_job.write(spark, settings, report)


def _write_stream_metrics(spark: SparkSession, settings: Settings) -> None:
    now = datetime.now(UTC)

    def row(query: str, batch: int, ago_s: float, p50: float, p95: float) -> tuple[object, ...]:
        started = now - timedelta(seconds=ago_s)
        return (query, batch, started, 100, 100, 0, 0, 10, 10, 1, 2, 0.5, 200.0, p50, p95, p95)

    rows = [
        row("transactions", 1, 30, 0.5, 0.9),
        row("feed", 1, 28, 9.0, 9.5),
        row("feed", 2, 10, 1.2, 3.4),
        row("lake", 2, 10, 4.5, 6.7),
    ]
    writes.append(
        spark.createDataFrame(rows, tables.STREAM_METRICS_SCHEMA),
        writes.ensure(spark, settings, tables.STREAM_METRICS),
    )


def build(spark: SparkSession, settings: Settings) -> None:
    """Writes the tables above under `settings.lake`."""
    _write_stream_metrics(spark, settings)
    _write_rfm(spark, settings)
    _write_segments(spark, settings)
    _write_models(spark, settings)
    _write_drift(spark, settings)


def has_deletion_vectors(table: Path) -> bool:
    """True if some commit of the table added a file with a deletion vector."""
    for commit in sorted((table / "_delta_log").glob("*.json")):
        for line in commit.read_text().splitlines():
            if line.startswith('{"add"') and '"deletionVector"' in line:
                return True
    return False
