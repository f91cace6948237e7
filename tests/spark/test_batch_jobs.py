"""The batch jobs end to end on a small lake: retrain (identity, registry, reference snapshot
with profiles), scores, then a behaviour shift that drift must alert on and that
`--retrain-on-drift` answers with a new model keeping the surviving segments' ids. (Segments
themselves are the stream's: here the customers hold the ones it would give them.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest
from pyspark.sql import functions as F

from batch import drift_job, retrain, rfm_scores
from cli.main import main
from segstream import testing
from segstream.contracts import tables
from segstream.contracts.tables import (
    CUSTOMER_SEGMENTS_SCHEMA,
    SEGMENT_HISTORY_SCHEMA,
    SEGMENT_MODEL_COLUMNS,
)
from segstream.lake import reads, writes
from segstream.lake.times import as_of_column
from segstream.model import registry, segments
from segstream.model.record import SegmentModel
from tests.conftest import make_settings
from tests.planted import FOUR, planted, rfm_frame

pytestmark = pytest.mark.spark

AS_OF = datetime(2025, 1, 1, tzinfo=UTC)
PER = 40


def write_events(spark, settings, frame) -> None:  # type: ignore[no-untyped-def]
    """One purchase per customer at its last purchase time: champions buy books, others
    garden tools."""
    rows = []
    for i, (cid, last) in enumerate(
        zip(frame["customer_id"], frame["last_purchase_at"], strict=True)
    ):
        t = last.to_pydatetime().replace(tzinfo=UTC)
        cat = "books" if i < PER else "garden"
        item = (f"sku-{cat}", cat, 1, Decimal("10.00"))
        rows.append(
            (
                f"e{i}",
                "purchase",
                cid,
                f"o{i}",
                t,
                t.date(),
                Decimal("10.00"),
                [item],
                1,
                "USD",
                None,
                None,
                None,
                "transactions",
                0,
                i,
                0,
                t,
            )
        )
    spark.createDataFrame(rows, tables.EVENTS_SCHEMA).write.format("delta").save(
        str(settings.table_path(tables.EVENTS))
    )


def hold_segments(spark, settings, model: SegmentModel) -> int:  # type: ignore[no-untyped-def]
    """customer_segments and segment_history as the stream would leave them: everyone scored
    at the data's as-of, a history row per customer whose segment changed. Returns the
    number of changes."""
    rfm = reads.customer_rfm(spark, settings)
    as_of = reads.data_as_of(rfm)
    cols = {
        "model_version": F.lit(model.version),
        "as_of": as_of_column(as_of),
        "scored_at": F.current_timestamp(),
        "cause": F.lit("purchase"),
    }
    held = (
        segments.assigned(rfm, model, as_of)
        .select(
            *[
                (cols[f.name] if f.name in cols else F.col(f.name)).cast(f.dataType).alias(f.name)
                if f.name in SEGMENT_MODEL_COLUMNS or f.name == "customer_id"
                else F.lit(None).cast(f.dataType).alias(f.name)
                for f in CUSTOMER_SEGMENTS_SCHEMA.fields
            ]
        )
        .toPandas()
    )
    before = reads.read(spark, settings, tables.CUSTOMER_SEGMENTS)
    was = {} if before is None else {r.customer_id: r.segment_id for r in before.collect()}
    moved = held[
        [was.get(c) != s for c, s in zip(held["customer_id"], held["segment_id"], strict=True)]
    ]
    history = [
        (
            r.customer_id,
            was.get(r.customer_id),
            None,
            int(r.segment_id),
            r.segment_name,
            "purchase",
            model.version,
            as_of,
            datetime.now(UTC),
            None,
        )
        for r in moved.itertuples()
    ]
    if history:
        writes.append(
            spark.createDataFrame(history, SEGMENT_HISTORY_SCHEMA),
            writes.ensure(spark, settings, tables.SEGMENT_HISTORY),
        )
    spark.createDataFrame(held, CUSTOMER_SEGMENTS_SCHEMA).write.format("delta").mode(
        "overwrite"
    ).save(str(writes.ensure(spark, settings, tables.CUSTOMER_SEGMENTS)))
    return len(history)


def write_customers(spark, settings, customers: list[str]) -> None:  # type: ignore[no-untyped-def]
    # Champions (the first group) are all "f", everyone else "m": a planted dependency.
    # Birth years cycle evenly within every group: age is independent of the segment.
    rows = [(cid, "f" if i < PER else "m", 1960 + 10 * (i % 4)) for i, cid in enumerate(customers)]
    spark.createDataFrame(rows, "customer_id string, gender string, birth_year int").write.format(
        "delta"
    ).save(str(settings.table_path(tables.CUSTOMERS)))


def test_retrain_scores_and_drift_with_retrain(spark, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        tmp_path, retrain_k_max=5, retrain_restarts=1, retrain_engine="sklearn"
    )
    frame = rfm_frame(planted(FOUR, per=PER, seed=1), AS_OF)
    rfm_path = str(settings.table_path(tables.CUSTOMER_RFM))
    testing.write_rfm(spark, frame, rfm_path)
    ids = frame["customer_id"].tolist()
    write_events(spark, settings, frame)
    write_customers(spark, settings, ids)

    v1 = retrain.run(spark, settings, retrain.RetrainOptions())
    assert (v1.version, v1.status, v1.k) == (1, "promoted", 4)
    assert v1.segment_names == ("Champions", "Promising/New", "At Risk", "Lost")
    snaps = reads.read(spark, settings, tables.SEGMENT_SNAPSHOTS)
    assert snaps is not None
    ref = {r.segment_name: r for r in snaps.where("kind = 'reference'").collect()}
    assert {n: r.customers for n, r in ref.items()} == dict.fromkeys(v1.segment_names, PER)
    assert json.loads(ref["Champions"].top_categories)[0]["category"] == "books"
    # Profiles read the 90 days before the as-of: the champions' purchases, not the lost ones'.
    assert sum(map(sum, json.loads(ref["Champions"].purchase_pattern))) == PER
    assert sum(map(sum, json.loads(ref["Lost"].purchase_pattern))) == 0
    tests = json.loads(ref["Champions"].demographic_tests)
    assert tests["gender"]["dependent"] and not tests["age_band"]["dependent"]
    assert json.loads(ref["Champions"].demographics)["gender"] == {"f": 1.0}

    assert hold_segments(spark, settings, v1) == 4 * PER
    assert rfm_scores.run(spark, settings).updated == 4 * PER
    calm = drift_job.run(spark, settings)
    assert calm.alerts == () and calm.retrained is None
    assert {m.metric for m in calm.measurements} == {
        "segment_share_psi",
        "feature_psi",
        "migration",
    }

    # The champions stop buying for 300 days while the rest of the shop goes on.
    shifted = frame.copy()
    lapsed = shifted.index[:PER]
    for col in ("last_purchase_at", "last_event_at"):
        shifted.loc[lapsed, col] -= np.timedelta64(300, "D")
    testing.write_rfm(spark, shifted, rfm_path)
    assert hold_segments(spark, settings, v1) == PER

    report = drift_job.run(spark, settings, retrain_on_drift=True)
    by_metric = {(m.metric, m.subject): m for m in report.measurements}
    assert by_metric[("segment_share_psi", "all")].level == "alert"
    assert by_metric[("feature_psi", "recency_days")].level in ("warn", "alert")
    assert by_metric[("feature_psi", "frequency")].level == "ok"
    migration = by_metric[("migration", "all")]
    assert migration.value == pytest.approx(PER / (4 * PER))
    assert report.retrained is not None and report.retrained.version == 2

    drift_rows = reads.read(spark, settings, tables.DRIFT)
    assert drift_rows is not None
    assert drift_rows.where(F.col("alert")).count() >= 1
    v2 = registry.current(spark, settings)
    assert v2 is not None and v2.version == 2
    # The groups that did not change keep their ids and names.
    keep = {i: n for i, n in zip(v1.segment_ids, v1.segment_names, strict=True) if n != "Champions"}
    assert keep.items() <= dict(zip(v2.segment_ids, v2.segment_names, strict=True)).items()

    assert (
        main(["models", "show", "2", "--lake", str(settings.lake), "--home", str(settings.home)])
        == 0
    )
    out = capsys.readouterr().out
    assert "model v2 (promoted)" in out and "matched against v1" in out
