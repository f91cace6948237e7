"""The monitor reads Spark-written Delta tables through delta-rs: rows that a MERGE or UPDATE
replaced (deletion vectors) stay replaced, and the pages' numbers are exact."""

from __future__ import annotations

import pytest

from segstream.config import Settings
from segstream.contracts import tables
from tests import monitor_lake
from viz import data, reads

pytestmark = pytest.mark.spark


def test_monitor_reads_what_spark_wrote(spark, monitor_lake_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    settings = monitor_lake_settings
    assert monitor_lake.has_deletion_vectors(settings.table_path(tables.CUSTOMER_SEGMENTS))

    segments = reads.read(settings, tables.CUSTOMER_SEGMENTS)
    # Twelve customers, once each: the two moved by the MERGE are not also still Champions.
    assert sorted(segments["customer_id"]) == monitor_lake.CUSTOMERS
    sizes = data.segment_sizes(segments)
    assert dict(zip(sizes["segment_name"], sizes["customers"], strict=True)) == (
        monitor_lake.EXPECTED_SIZES
    )
    assert sizes["share"].tolist() == [4 / 12, 6 / 12, 2 / 12]
    assert spark.read.format("delta").load(
        str(settings.table_path(tables.CUSTOMER_SEGMENTS))
    ).count() == len(segments)

    rfm = reads.read(settings, tables.CUSTOMER_RFM)
    profile = data.rfm_profile(segments, rfm).set_index("segment_name")
    # At Risk = c00, c01: last purchases 0 and 1 days before the as-of, 1 and 2 orders.
    assert profile.loc["At Risk", "recency_days"] == pytest.approx(0.5)
    assert profile.loc["At Risk", "frequency"] == pytest.approx(1.5)
    assert profile.loc["At Risk", "monetary"] == pytest.approx(15.0)

    models = reads.read(settings, tables.MODELS)
    assert dict(zip(models["version"], models["status"], strict=True)) == {
        1: "retired",
        2: "promoted",
    }
    current = data.promoted(models)
    assert current is not None
    assert (current["version"], current["k"]) == (2, 3)

    alerted = data.alerts(reads.read(settings, tables.DRIFT))
    assert alerted["label"].tolist() == ["feature_psi: recency_days"]
    assert alerted["value"].tolist() == [monitor_lake.ALERT_VALUE]
