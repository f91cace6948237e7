"""Rescore on a hand-built lake: exactly the expected segment_history rows, model columns
updated, classic RFM score columns kept, customers outside customer_rfm untouched."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from batch import rescore
from segstream.config import Settings
from segstream.contracts import tables
from segstream.lake import reads, writes
from segstream.lake.times import to_micros
from segstream.model.record import SegmentModel
from tests.conftest import make_settings

pytestmark = pytest.mark.spark

AS_OF = datetime(2025, 1, 1, tzinfo=UTC)
MODEL = SegmentModel(
    version=5,
    trained_at=AS_OF,
    as_of=AS_OF,
    rows=4,
    features=("recency_days", "frequency", "monetary"),
    transforms=("identity", "identity", "identity"),
    mean=(0.0, 0.0, 0.0),
    std=(100.0, 10.0, 1000.0),
    centroids=((0.05, 2.0, 2.0), (3.0, 0.1, 0.02)),
    segment_ids=(1, 2),
    segment_names=("Champions", "Lost"),
    engine="sklearn",
    status="promoted",
)


def rfm_row(cid: str, last: datetime, orders: int, money: str) -> tuple[object, ...]:
    m = Decimal(money)
    return (
        cid,
        datetime(2023, 1, 1, tzinfo=UTC),
        last,
        orders,
        m,
        Decimal("0.00"),
        m,
        orders,
        last,
        AS_OF,
    )


def segment_row(cid: str, seg: int, name: str, version: int, r_score: int) -> tuple[object, ...]:
    before = datetime(2024, 12, 1, tzinfo=UTC)
    return (
        cid,
        seg,
        name,
        version,
        0.1,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        before,
        before,
        "event",
        r_score,
        2,
        3,
        f"{r_score}23",
        "Loyal",
        "Low Frequency",
    )


def _lake(spark, tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path)
    rfm = [
        rfm_row("a", datetime(2024, 12, 31, tzinfo=UTC), 20, "2000.00"),  # stays Champions
        rfm_row("b", datetime(2024, 12, 30, tzinfo=UTC), 18, "1800.00"),  # Lost -> Champions
        rfm_row("c", datetime(2024, 3, 1, tzinfo=UTC), 1, "20.00"),  # Champions -> Lost, old model
        rfm_row("d", AS_OF, 25, "2500.00"),  # first scored: nothing -> Champions
    ]
    spark.createDataFrame(rfm, tables.CUSTOMER_RFM_SCHEMA).write.format("delta").save(
        str(settings.table_path(tables.CUSTOMER_RFM))
    )
    writes.ensure(spark, settings, tables.CUSTOMER_SEGMENTS)
    before = [
        segment_row("a", 1, "Champions", 5, 5),
        segment_row("b", 2, "Lost", 5, 1),
        segment_row("c", 1, "Champions", 4, 4),
        segment_row("e", 2, "Lost", 4, 1),  # not in customer_rfm
    ]
    spark.createDataFrame(before, tables.CUSTOMER_SEGMENTS_SCHEMA).write.format("delta").mode(
        "append"
    ).save(str(settings.table_path(tables.CUSTOMER_SEGMENTS)))
    return settings


def test_rescore_writes_exactly_the_changes(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = _lake(spark, tmp_path)
    result = rescore.run(spark, settings, model=MODEL)
    assert (result.customers, result.changes, result.model_version) == (4, 3, 5)
    assert result.as_of == AS_OF

    history = reads.read(spark, settings, tables.SEGMENT_HISTORY)
    assert history is not None
    got = {
        tuple(r)
        for r in history.select(
            "customer_id",
            "from_segment_id",
            "from_segment_name",
            "to_segment_id",
            "to_segment_name",
            "cause",
            "model_version",
            F.unix_micros("event_time"),
            "batch_id",
        ).collect()
    }
    at = to_micros(AS_OF)
    assert got == {
        ("b", 2, "Lost", 1, "Champions", "rescore", 5, at, None),
        ("c", 1, "Champions", 2, "Lost", "retrain", 5, at, None),
        ("d", None, None, 1, "Champions", "rescore", 5, at, None),
    }

    segments = reads.read(spark, settings, tables.CUSTOMER_SEGMENTS)
    assert segments is not None
    rows = {
        r.customer_id: r
        for r in segments.select(
            "customer_id",
            "segment_id",
            "model_version",
            "cause",
            "r_score",
            "rfm_cell",
            "rule_segment",
            F.round("recency_days", 6).alias("recency_days"),
        ).collect()
    }
    assert {c: (r.segment_id, r.model_version, r.cause) for c, r in rows.items()} == {
        "a": (1, 5, "rescore"),
        "b": (1, 5, "rescore"),
        "c": (2, 5, "retrain"),
        "d": (1, 5, "rescore"),
        "e": (2, 4, "event"),
    }
    # The classic RFM columns belong to `segstream scores`: kept, or null for a new row.
    assert [(rows[c].r_score, rows[c].rfm_cell) for c in "abcde"] == [
        (5, "523"),
        (1, "123"),
        (4, "423"),
        (None, None),
        (1, "123"),
    ]
    assert rows["a"].recency_days == 1.0 and rows["d"].recency_days == 0.0

    # Nothing moved since: a second rescore records no change.
    again = rescore.run(spark, settings, model=MODEL)
    assert again.changes == 0
    reread = reads.read(spark, settings, tables.SEGMENT_HISTORY)
    assert reread is not None and reread.count() == 3
