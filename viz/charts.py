"""Chart builders: a frame of `viz.data` in, a Plotly figure out. No I/O, no Streamlit."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz import data

# Levels of a drift measurement, in the colours the pages use for them.
LEVEL_COLOURS = {"ok": "#2e7d32", "warn": "#f9a825", "alert": "#c62828"}
_PROFILE_TITLES = {
    "recency_days": "Recency (days)",
    "frequency": "Frequency (orders)",
    "monetary": "Monetary (net)",
}


def _layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(title=title, margin={"l": 40, "r": 20, "t": 50, "b": 40}, height=360)
    return fig


def segment_sizes(sizes: pd.DataFrame) -> go.Figure:
    """Customers per segment, each bar labelled with its share."""
    fig = go.Figure(
        go.Bar(
            x=sizes["segment_name"],
            y=sizes["customers"],
            text=[f"{s:.1%}" for s in sizes["share"]],
            textposition="auto",
        )
    )
    fig.update_yaxes(title="customers")
    return _layout(fig, "Customers per segment")


def rfm_profile(profile: pd.DataFrame) -> go.Figure:
    """Mean recency, frequency and monetary per segment, one panel each (scales differ)."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=list(_PROFILE_TITLES.values()))
    for col, name in enumerate(_PROFILE_TITLES, start=1):
        fig.add_trace(
            go.Bar(x=profile["segment_name"], y=profile[name], name=_PROFILE_TITLES[name]),
            row=1,
            col=col,
        )
    fig.update_layout(showlegend=False)
    return _layout(fig, "R/F/M profile per segment (means)")


def share_over_time(shares: pd.DataFrame) -> go.Figure:
    """One line per segment: its share at each snapshot."""
    fig = go.Figure()
    for name, part in shares.groupby("segment_name", sort=True):
        fig.add_trace(
            go.Scatter(
                x=part["snapshot_time"], y=part["share"], mode="lines+markers", name=str(name)
            )
        )
    fig.update_yaxes(title="share", tickformat=".0%")
    return _layout(fig, "Segment share over time")


def _threshold_lines(fig: go.Figure, warn: float, alert: float) -> None:
    fig.add_hline(
        y=warn, line_dash="dash", line_color=LEVEL_COLOURS["warn"], annotation_text="warn"
    )
    fig.add_hline(
        y=alert, line_dash="dash", line_color=LEVEL_COLOURS["alert"], annotation_text="alert"
    )


def psi_latest(latest: pd.DataFrame, warn: float, alert: float) -> go.Figure:
    """PSI of the newest run per feature and for the segment shares, against the thresholds."""
    psi = latest[latest["metric"].isin(data.PSI_METRICS)]
    fig = go.Figure(
        go.Bar(
            x=psi["label"],
            y=psi["value"],
            marker_color=[LEVEL_COLOURS.get(str(v), "#777777") for v in psi["level"]],
            text=[f"{v:.3f}" for v in psi["value"]],
            textposition="auto",
        )
    )
    _threshold_lines(fig, warn, alert)
    fig.update_yaxes(title="PSI")
    return _layout(fig, "PSI, newest run")


def psi_history(history: pd.DataFrame, warn: float, alert: float) -> go.Figure:
    """Every PSI series over time, against the thresholds."""
    fig = go.Figure()
    for label, part in history.groupby("label", sort=True):
        fig.add_trace(
            go.Scatter(x=part["measured_at"], y=part["value"], mode="lines+markers", name=label)
        )
    _threshold_lines(fig, warn, alert)
    fig.update_yaxes(title="PSI")
    return _layout(fig, "PSI over time")


def migrations(counts: pd.DataFrame) -> go.Figure:
    """Heat map of segment changes: customers per (from segment, to segment)."""
    matrix = data.migration_matrix(counts)
    fig = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(),
            x=list(matrix.columns),
            y=list(matrix.index),
            text=matrix.to_numpy(),
            texttemplate="%{text}",
            colorscale="Blues",
        )
    )
    fig.update_xaxes(title="to")
    fig.update_yaxes(title="from")
    return _layout(fig, "Segment migrations")


def event_rate(rates: pd.DataFrame) -> go.Figure:
    """Events per second arriving, per query."""
    fig = go.Figure()
    for query, part in rates.groupby("query", sort=True):
        fig.add_trace(
            go.Scatter(x=part["started_at"], y=part["events_per_s"], mode="lines", name=query)
        )
    fig.update_yaxes(title="events/s")
    return _layout(fig, "Events per second")


def latency(rates: pd.DataFrame) -> go.Figure:
    """End-to-end latency percentiles per micro-batch (produced -> committed)."""
    fig = go.Figure()
    for query, part in rates.groupby("query", sort=True):
        for col, pct in (("latency_p50_s", "p50"), ("latency_p95_s", "p95")):
            fig.add_trace(
                go.Scatter(x=part["started_at"], y=part[col], mode="lines", name=f"{query} {pct}")
            )
    fig.update_yaxes(title="seconds")
    return _layout(fig, "End-to-end latency")


def quarantine(reasons: pd.DataFrame) -> go.Figure:
    """Rejected messages per reason code."""
    fig = go.Figure(go.Bar(x=reasons["reason"], y=reasons["messages"]))
    fig.update_yaxes(title="messages")
    return _layout(fig, "Quarantined messages by reason")
