"""The monitor's computations on small hand-made frames, against values worked out by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest

from segstream.contracts import tables
from tests.conftest import make_settings
from viz import data, reads

pytestmark = pytest.mark.unit


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


SEGMENTS = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d", "e"],
        "segment_id": [2, 1, 2, 1, 2],
        "segment_name": ["At Risk", "Champions", "At Risk", "Champions", "At Risk"],
    }
)


def test_segment_sizes_counts_and_shares_in_id_order() -> None:
    sizes = data.segment_sizes(SEGMENTS)
    assert sizes.to_dict("records") == [
        {"segment_id": 1, "segment_name": "Champions", "customers": 2, "share": 2 / 5},
        {"segment_id": 2, "segment_name": "At Risk", "customers": 3, "share": 3 / 5},
    ]


def test_rfm_profile_means_recency_from_the_newest_event() -> None:
    rfm = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            # As-of is the newest last_event_at: 2025-01-11.
            "last_purchase_at": [
                ts("2025-01-01"),
                ts("2025-01-10"),
                ts("2024-12-22"),
                ts("2025-01-11"),
                None,
            ],
            "last_event_at": [
                ts("2025-01-01"),
                ts("2025-01-10"),
                ts("2024-12-22"),
                ts("2025-01-11"),
                ts("2025-01-06"),
            ],
            "orders": [1, 4, 2, 6, 0],
            "monetary": [
                Decimal("10.00"),
                Decimal("40.50"),
                Decimal("20.00"),
                Decimal("60.00"),
                Decimal("-5.00"),
            ],
        }
    )
    profile = data.rfm_profile(SEGMENTS, rfm).set_index("segment_name")
    # Champions b, d: recency 1 and 0 days; orders 4, 6; monetary 40.5, 60.
    assert profile.loc["Champions", "customers"] == 2
    assert profile.loc["Champions", "recency_days"] == pytest.approx(0.5)
    assert profile.loc["Champions", "frequency"] == pytest.approx(5.0)
    assert profile.loc["Champions", "monetary"] == pytest.approx(50.25)
    # At Risk a, c, e: recency 10, 20 and 5 days (e has returns only: its last event).
    assert profile.loc["At Risk", "recency_days"] == pytest.approx(35 / 3)
    assert profile.loc["At Risk", "frequency"] == pytest.approx(1.0)
    assert profile.loc["At Risk", "monetary"] == pytest.approx(25 / 3)


def test_empty_inputs_give_empty_frames_with_columns() -> None:
    empty = pd.DataFrame({"segment_id": [], "segment_name": [], "customer_id": []})
    assert list(data.segment_sizes(empty).columns) == data.SIZE_COLUMNS
    assert data.segment_sizes(empty).empty
    assert data.rfm_profile(empty, pd.DataFrame()).empty
    assert data.migrations(pd.DataFrame(), ts("2025-01-01")).empty
    assert data.stream_summary(pd.DataFrame(), ts("2025-01-01")) is None
    assert data.model_versions(pd.DataFrame()).empty
    assert data.promoted(pd.DataFrame()) is None


def drift_rows() -> pd.DataFrame:
    def row(
        run: str, at: str, metric: str, subject: str, value: float, level: str
    ) -> dict[str, object]:
        return {
            "run_id": run,
            "measured_at": ts(at),
            "model_version": 1,
            "metric": metric,
            "subject": subject,
            "value": value,
            "warn_threshold": None if metric == "migration" else 0.1,
            "alert_threshold": None if metric == "migration" else 0.25,
            "level": level,
            "alert": level == "alert",
            "reference": "model:v1",
            "details": "{}",
        }

    return pd.DataFrame(
        [
            row("r1", "2025-01-01 10:00", "feature_psi", "recency_days", 0.02, "ok"),
            row("r1", "2025-01-01 10:00", "segment_share_psi", "all", 0.3, "alert"),
            row("r2", "2025-01-01 11:00", "feature_psi", "recency_days", 0.4, "alert"),
            row("r2", "2025-01-01 11:00", "feature_psi", "monetary", 0.12, "warn"),
            row("r2", "2025-01-01 11:00", "migration", "all", 0.5, "ok"),
        ]
    )


def test_latest_drift_is_the_newest_run_only() -> None:
    latest = data.latest_drift(drift_rows())
    assert latest["label"].tolist() == [
        "feature_psi: monetary",
        "feature_psi: recency_days",
        "migration: all",
    ]
    assert latest["level"].tolist() == ["warn", "alert", "ok"]


def test_alerts_newest_first_and_thresholds_from_the_table() -> None:
    alerted = data.alerts(drift_rows())
    assert alerted["label"].tolist() == ["feature_psi: recency_days", "segment_share_psi: all"]
    assert alerted["value"].tolist() == [0.4, 0.3]
    assert data.thresholds(drift_rows()) == (0.1, 0.25)
    assert data.psi_history(drift_rows())["value"].tolist() == [0.02, 0.3, 0.12, 0.4]


def test_migrations_count_changes_in_the_window() -> None:
    history = pd.DataFrame(
        {
            "from_segment_name": [None, "At Risk", "At Risk", "Champions", "At Risk"],
            "to_segment_name": ["Champions", "Champions", "Champions", "At Risk", "Lost"],
            "processed_at": [
                ts("2025-01-01 10:00"),
                ts("2025-01-01 10:30"),
                ts("2025-01-01 10:31"),
                ts("2025-01-01 10:45"),
                ts("2025-01-01 09:00"),  # before the window
            ],
        }
    )
    counts = data.migrations(history, ts("2025-01-01 10:00"))
    assert counts.to_dict("records") == [
        {"from_segment": "(new)", "to_segment": "Champions", "customers": 1},
        {"from_segment": "At Risk", "to_segment": "Champions", "customers": 2},
        {"from_segment": "Champions", "to_segment": "At Risk", "customers": 1},
    ]
    matrix = data.migration_matrix(counts)
    assert matrix.loc["At Risk", "Champions"] == 2
    assert matrix.loc["(new)", "At Risk"] == 0
    assert matrix.loc["Champions", "At Risk"] == 1


def metrics_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "query": ["transactions", "feed", "lake", "transactions", "customers"],
            "started_at": [
                ts("2025-01-01 10:00:00"),
                ts("2025-01-01 10:00:02"),
                ts("2025-01-01 10:00:06"),
                ts("2025-01-01 10:00:04"),
                ts("2025-01-01 10:00:01"),
            ],
            "input_rows": [100, 50, 200, 30, 7],
            "quarantined_rows": [1, 0, 3, 2, 0],
            "batch_duration_s": [0.5, 1.0, 1.5, 0.2, 0.2],
            "latency_p50_s": [1.0, 2.0, 3.0, 0.5, None],
            "latency_p95_s": [2.0, 4.0, 5.5, 0.9, None],
        }
    )


def test_stream_rates_are_rows_over_the_gap_between_batches() -> None:
    rates = data.stream_rates(metrics_rows())
    tx = rates[rates["query"] == "transactions"]
    # 30 rows 4 s after the first batch.
    assert tx["events_per_s"].tolist()[1:] == [7.5]
    assert pd.isna(tx["events_per_s"].iloc[0])


def test_stream_summary_ages_the_newest_batch_end() -> None:
    summary = data.stream_summary(metrics_rows(), ts("2025-01-01 10:00:10"))
    assert summary is not None
    # The newest batch started at :06 and took 1.5 s: it ended 2.5 s before :10.
    assert summary.last_batch_age_s == pytest.approx(2.5)
    # Events and quarantined rows are those of the `transactions` rows; latencies the newest of each.
    assert (summary.batches, summary.events, summary.quarantined) == (5, 130, 3)
    assert (summary.feed_p50_s, summary.feed_p95_s) == (2.0, 4.0)
    assert (summary.lake_p50_s, summary.lake_p95_s) == (3.0, 5.5)


def test_quarantine_by_reason_most_frequent_first() -> None:
    reasons = data.quarantine_by_reason(
        pd.DataFrame({"reason": ["bad_json", "missing_field", "bad_json", "future_time"]})
    )
    assert reasons.to_dict("records") == [
        {"reason": "bad_json", "messages": 2},
        {"reason": "future_time", "messages": 1},
        {"reason": "missing_field", "messages": 1},
    ]


def record(version: int, names: list[str], silhouette: float) -> str:
    k = len(names)
    return json.dumps(
        {
            "version": version,
            "trained_at": datetime(2025, 1, version, tzinfo=UTC).isoformat(),
            "as_of": datetime(2025, 1, version, tzinfo=UTC).isoformat(),
            "rows": 10,
            "features": ["recency_days"],
            "transforms": ["log1p"],
            "mean": [1.0],
            "std": [1.0],
            "centroids": [[float(i)] for i in range(k)],
            "segment_ids": list(range(1, k + 1)),
            "segment_names": names,
            "engine": "sklearn",
            "status": "candidate",
            "metrics": {"silhouette": silhouette, "inertia": 1.5},
            "retired_segments": [],
        }
    )


def test_model_versions_newest_first_and_the_promoted_one() -> None:
    models = pd.DataFrame(
        {
            "version": [1, 2, 3],
            "status": ["retired", "promoted", "candidate"],
            "trained_at": [ts("2025-01-01"), ts("2025-01-02"), ts("2025-01-03")],
            "as_of": [ts("2025-01-01"), ts("2025-01-02"), ts("2025-01-03")],
            "engine": ["sklearn"] * 3,
            "k": [2, 3, 2],
            "rows": [10, 10, 10],
            "record": [
                record(1, ["Champions", "Lost"], 0.5),
                record(2, ["Champions", "At Risk", "Lost"], 0.61),
                record(3, ["Champions", "Lost"], 0.4),
            ],
            "promoted_at": [ts("2025-01-01"), ts("2025-01-02"), None],
        }
    )
    versions = data.model_versions(models)
    assert versions["version"].tolist() == [3, 2, 1]
    assert versions["silhouette"].tolist() == [0.4, 0.61, 0.5]
    current = data.promoted(models)
    assert current is not None
    assert (current["version"], current["k"]) == (2, 3)
    assert current["segments"] == "Champions, At Risk, Lost"


def test_a_missing_table_reads_as_empty_with_its_columns(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path)
    metrics = reads.read(settings, tables.STREAM_METRICS)
    assert metrics.empty
    assert list(metrics.columns) == tables.STREAM_METRICS_SCHEMA.fieldNames()
    assert data.stream_summary(metrics, ts("2025-01-01")) is None
