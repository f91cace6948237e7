"""`segstream drift`: take a snapshot, measure drift, append the results to `drift`.

Measurements (one `drift` row each):

- `segment_share_psi`: PSI of the segment shares of the new snapshot against the reference
  snapshot taken when the promoted model was trained (falling back to the training shares in
  the model record if that snapshot is gone);
- `feature_psi` per feature: the current population binned with the training data's
  quantile edges (kept in the record's metrics, so old data is never re-read) against the
  training proportions;
- `centroid_shift`: the largest distance a segment's centroid moved between the model and
  the one it was matched against at training (in the new model's std units);
- `migration`: customers per (segment at the previous snapshot, segment now). The segment
  of a customer at a time t is the `to_segment_id` of its last `segment_history` row
  processed at or before t, so the matrix needs no per-customer copy in every snapshot;
  informational, never alerts.

Levels: `warn` from drift_warn (0.1), `alert` from drift_alert (0.25) for PSI, and the
centroid_shift_* settings for the shift. With `retrain_on_drift` an alert retrains (and
rescores) at once.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from batch import drift, identity, rescore, retrain, snapshot, spark_stats
from batch.snapshot import Snapshot
from segstream.config import Settings
from segstream.contracts import tables
from segstream.lake import reads, writes
from segstream.lake.times import as_of_column
from segstream.model import registry, segments
from segstream.model.features import FREQUENCY, MONETARY, RECENCY
from segstream.model.record import SegmentModel

log = logging.getLogger(__name__)

PSI_FEATURES = (RECENCY, FREQUENCY, MONETARY)


@dataclass(frozen=True)
class Measurement:
    metric: str
    subject: str
    value: float | None
    warn: float | None
    alert: float | None
    reference: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def level(self) -> drift.Level:
        if self.value is None or self.warn is None or self.alert is None:
            return "ok"
        return drift.level(self.value, self.warn, self.alert)


@dataclass(frozen=True)
class DriftReport:
    run_id: str
    model_version: int
    measurements: tuple[Measurement, ...]
    retrained: SegmentModel | None = None

    @property
    def alerts(self) -> tuple[Measurement, ...]:
        return tuple(m for m in self.measurements if m.level == "alert")


def share_psi(reference: Snapshot, current: Snapshot, warn: float, alert: float) -> Measurement:
    ids, e, a = drift.aligned_shares(reference.shares, current.shares)
    return Measurement(
        "segment_share_psi",
        "all",
        drift.psi(e, a),
        warn,
        alert,
        f"snapshot:{reference.snapshot_id}",
        {
            "segments": ids,
            "expected": e.tolist(),
            "actual": a.tolist(),
            "snapshot": current.snapshot_id,
        },
    )


def feature_psis(
    model: SegmentModel, actual: dict[str, np.ndarray], warn: float, alert: float
) -> list[Measurement]:
    bins = model.metrics.get("feature_bins", {})
    out = []
    for name, props in actual.items():
        expected = bins[name]["proportions"]
        out.append(
            Measurement(
                "feature_psi",
                name,
                drift.psi(expected, props),
                warn,
                alert,
                f"model:v{model.version}",
                {"edges": bins[name]["edges"], "expected": expected, "actual": props.tolist()},
            )
        )
    return out


def shift(previous: SegmentModel, model: SegmentModel, warn: float, alert: float) -> Measurement:
    moved = identity.centroid_shift(previous, model)
    return Measurement(
        "centroid_shift",
        "max",
        max(moved.values()) if moved else None,
        warn,
        alert,
        f"model:v{previous.version}",
        {"per_segment": {str(k): v for k, v in moved.items()}},
    )


def segments_at(history: DataFrame, at: datetime) -> DataFrame:
    """Each customer's segment at time `at`: its last history row processed by then."""
    w = Window.partitionBy("customer_id").orderBy(
        F.col("processed_at").desc(), F.col("model_version").desc()
    )
    return (
        history.where(F.col("processed_at") <= as_of_column(at))
        .withColumn("_n", F.row_number().over(w))
        .where(F.col("_n") == 1)
        .select("customer_id", F.col("to_segment_id").alias("segment_id"))
    )


def migration_counts(history: DataFrame, before: datetime, after: datetime) -> drift.Migration:
    a = segments_at(history, before).withColumnRenamed("segment_id", "a")
    b = segments_at(history, after).withColumnRenamed("segment_id", "b")
    rows = b.join(a, "customer_id", "left").groupBy("a", "b").count().collect()
    return drift.migration_matrix(
        (None if r["a"] is None else int(r["a"]), int(r["b"]), int(r["count"])) for r in rows
    )


def _reference(spark: SparkSession, settings: Settings, model: SegmentModel) -> Snapshot | None:
    found = snapshot.find(spark, settings, model_version=model.version, kind="reference")
    if found is not None:
        return found
    shares = model.metrics.get("segment_shares")
    if not shares:
        return None
    return Snapshot(
        f"model-v{model.version}",
        model.trained_at,
        "reference",
        model.version,
        {int(k): float(v) for k, v in shares.items()},
    )


def measure(
    spark: SparkSession, settings: Settings, model: SegmentModel, current: Snapshot | None
) -> list[Measurement]:
    """Every drift measurement of the promoted model against its references."""
    out: list[Measurement] = []
    reference = _reference(spark, settings, model)
    if reference is not None and current is not None:
        out.append(share_psi(reference, current, settings.drift_warn, settings.drift_alert))
    bins = model.metrics.get("feature_bins", {})
    names = [f for f in PSI_FEATURES if f in bins]
    if names:
        rfm = reads.customer_rfm(spark, settings)
        featured = segments.features(rfm, reads.data_as_of(rfm))
        actual = spark_stats.bin_proportions(
            featured, {f: (F.col(f), bins[f]["edges"]) for f in names}
        )
        out += feature_psis(model, actual, settings.drift_warn, settings.drift_alert)
    prev_version = model.metrics.get("identity", {}).get("previous_version")
    if prev_version is not None:
        previous = registry.get(spark, settings, int(prev_version))
        out.append(
            shift(previous, model, settings.centroid_shift_warn, settings.centroid_shift_alert)
        )
    history = reads.read(spark, settings, tables.SEGMENT_HISTORY)
    if current is not None and history is not None:
        earlier = snapshot.find(spark, settings, before=current.snapshot_time)
        if earlier is not None:
            mig = migration_counts(history, earlier.snapshot_time, current.snapshot_time)
            out.append(
                Measurement(
                    "migration",
                    "all",
                    mig.moved_share,
                    None,
                    None,
                    f"snapshot:{earlier.snapshot_id}",
                    {**mig.as_dict(), "snapshot": current.snapshot_id},
                )
            )
    return out


def write(spark: SparkSession, settings: Settings, report: DriftReport) -> None:
    now = datetime.now(UTC)
    rows = [
        (
            report.run_id,
            now,
            report.model_version,
            m.metric,
            m.subject,
            m.value,
            m.warn,
            m.alert,
            m.level,
            m.level == "alert",
            m.reference,
            json.dumps(m.details, sort_keys=True, default=str),
        )
        for m in report.measurements
    ]
    path = writes.ensure(spark, settings, tables.DRIFT)
    if rows:
        writes.append(spark.createDataFrame(rows, tables.DRIFT_SCHEMA), path)


def run(
    spark: SparkSession,
    settings: Settings,
    take_snapshot: bool = True,
    retrain_on_drift: bool = False,
) -> DriftReport:
    """Snapshots (unless told not to), measures, records, and optionally retrains on alert.

    Raises:
        batch.rescore.NoModelError: there is no promoted model.
    """
    model = registry.current(spark, settings)
    if model is None:
        raise rescore.NoModelError("no promoted model: run `segstream retrain` first")
    if take_snapshot:
        current: Snapshot | None = snapshot.take(spark, settings, model, "scheduled")
    else:
        current = snapshot.find(spark, settings, model_version=model.version, kind="scheduled")
    report = DriftReport(
        uuid.uuid4().hex, model.version, tuple(measure(spark, settings, model, current))
    )
    write(spark, settings, report)
    for m in report.measurements:
        value = "n/a" if m.value is None else f"{m.value:.4f}"
        (log.warning if m.level != "ok" else log.info)(
            "drift %s %s = %s (%s) vs %s", m.metric, m.subject, value, m.level, m.reference
        )
    if report.alerts and retrain_on_drift:
        log.warning("%d drift alerts: retraining", len(report.alerts))
        # Promoted, the stream switches to it and re-scores everyone.
        model = retrain.run(spark, settings, retrain.RetrainOptions())
        report = DriftReport(report.run_id, report.model_version, report.measurements, model)
    return report
