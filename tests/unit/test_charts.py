"""Chart builders: the figures carry exactly the numbers of the frames they are given."""

from __future__ import annotations

import pandas as pd
import pytest

from viz import charts, data

pytestmark = pytest.mark.unit


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_segment_sizes_bars_labelled_with_shares() -> None:
    sizes = pd.DataFrame(
        {
            "segment_id": [1, 2],
            "segment_name": ["Champions", "Lost"],
            "customers": [3, 1],
            "share": [0.75, 0.25],
        }
    )
    (bar,) = charts.segment_sizes(sizes).data
    assert list(bar.x) == ["Champions", "Lost"]
    assert list(bar.y) == [3, 1]
    assert list(bar.text) == ["75.0%", "25.0%"]


def test_rfm_profile_one_panel_per_measure() -> None:
    profile = pd.DataFrame(
        {
            "segment_id": [1, 2],
            "segment_name": ["Champions", "Lost"],
            "customers": [3, 1],
            "recency_days": [2.0, 200.0],
            "frequency": [8.0, 1.0],
            "monetary": [500.0, 20.0],
        }
    )
    traces = charts.rfm_profile(profile).data
    assert [list(t.y) for t in traces] == [[2.0, 200.0], [8.0, 1.0], [500.0, 20.0]]
    assert [t.xaxis for t in traces] == ["x", "x2", "x3"]


def test_psi_latest_colours_levels_and_draws_thresholds() -> None:
    latest = pd.DataFrame(
        {
            "metric": ["feature_psi", "feature_psi", "migration"],
            "label": ["feature_psi: monetary", "feature_psi: recency_days", "migration: all"],
            "value": [0.12, 0.4, 0.5],
            "level": ["warn", "alert", "ok"],
        }
    )
    fig = charts.psi_latest(latest, 0.1, 0.25)
    (bar,) = fig.data
    # Migration is not a PSI: left out.
    assert list(bar.x) == ["feature_psi: monetary", "feature_psi: recency_days"]
    assert list(bar.marker.color) == [charts.LEVEL_COLOURS["warn"], charts.LEVEL_COLOURS["alert"]]
    assert sorted(shape.y0 for shape in fig.layout.shapes) == [0.1, 0.25]


def test_share_over_time_one_line_per_segment() -> None:
    shares = pd.DataFrame(
        {
            "snapshot_time": [
                ts("2025-01-01"),
                ts("2025-01-01"),
                ts("2025-01-02"),
                ts("2025-01-02"),
            ],
            "segment_name": ["Champions", "Lost", "Champions", "Lost"],
            "share": [0.6, 0.4, 0.5, 0.5],
        }
    )
    fig = charts.share_over_time(shares)
    assert {t.name: list(t.y) for t in fig.data} == {"Champions": [0.6, 0.5], "Lost": [0.4, 0.5]}


def test_migration_heatmap_holds_the_matrix() -> None:
    counts = pd.DataFrame(
        {
            "from_segment": [data.NEW_CUSTOMER, "At Risk", "Champions"],
            "to_segment": ["Champions", "Champions", "At Risk"],
            "customers": [1, 2, 1],
        }
    )
    (heat,) = charts.migrations(counts).data
    assert list(heat.y) == ["(new)", "At Risk", "Champions"]
    assert list(heat.x) == ["At Risk", "Champions"]
    assert heat.z.tolist() == [[0, 1], [0, 2], [1, 0]]


def test_stream_charts_per_query() -> None:
    rates = pd.DataFrame(
        {
            "query": ["transactions", "transactions"],
            "started_at": [ts("2025-01-01 10:00:00"), ts("2025-01-01 10:00:02")],
            "input_rows": [100, 50],
            "events_per_s": [None, 25.0],
            "latency_p50_s": [1.0, 2.0],
            "latency_p95_s": [2.0, 4.0],
        }
    )
    (rate,) = charts.event_rate(rates).data
    assert list(rate.y)[1] == 25.0
    assert {t.name: list(t.y) for t in charts.latency(rates).data} == {
        "transactions p50": [1.0, 2.0],
        "transactions p95": [2.0, 4.0],
    }
    reasons = pd.DataFrame({"reason": ["bad_json"], "messages": [2]})
    (bar,) = charts.quarantine(reasons).data
    assert (list(bar.x), list(bar.y)) == (["bad_json"], [2])
