"""The monitor's pages. Each reads its tables, computes with `viz.data`, draws with
`viz.charts`; a table that is missing or empty shows "no data yet" and the page goes on.

Small tables are drawn with `st.table` (plain HTML, readable and searchable on the page);
charts with `st.plotly_chart`.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from segstream.config import Settings
from segstream.contracts import tables
from viz import charts, data, feed, processes, reads


def _no_data(what: str, hint: str) -> None:
    st.info(f"No data yet: {what}. {hint}")


def _time(value: object) -> str:
    return "-" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def process_warnings(settings: Settings) -> None:
    """A warning for each process of a running demo that failed and waits to restart
    (`segstream.runtime.supervisor`'s status file)."""
    for line in processes.restarting_processes(settings.demo_status_path(), settings.home):
        st.warning(line)


def overview(settings: Settings) -> None:
    st.header("Segments")
    segments = reads.read(
        settings, tables.CUSTOMER_SEGMENTS, ["customer_id", "segment_id", "segment_name"]
    )
    model = data.promoted(reads.read(settings, tables.MODELS))
    sizes = data.segment_sizes(segments)
    left, middle, right = st.columns(3)
    left.metric("Customers in segments", f"{int(sizes['customers'].sum()):,}")
    middle.metric("Segments", len(sizes))
    right.metric(
        "Current model", "none" if model is None else f"v{model['version']} (k={model['k']})"
    )
    if sizes.empty:
        _no_data(
            f"{tables.CUSTOMER_SEGMENTS} is empty",
            "Customers get a segment once the first model is trained and promoted.",
        )
        return
    st.plotly_chart(charts.segment_sizes(sizes))
    shown = sizes.assign(share=[f"{s:.1%}" for s in sizes["share"]])
    st.table(shown.set_index("segment_id"))
    rfm = reads.read(
        settings,
        tables.CUSTOMER_RFM,
        ["customer_id", "last_purchase_at", "last_event_at", "orders", "monetary"],
    )
    profile = data.rfm_profile(segments, rfm)
    if profile.empty:
        _no_data(f"{tables.CUSTOMER_RFM} is empty", "The stream fills it from the events.")
        return
    st.subheader("R/F/M per segment")
    st.plotly_chart(charts.rfm_profile(profile))
    st.table(profile.set_index("segment_id").round(2))


def drift(settings: Settings) -> None:
    st.header("Drift")
    measured = reads.read(settings, tables.DRIFT)
    st.subheader("Alerts")
    alerted = data.alerts(measured)
    if alerted.empty:
        st.success("No drift alerts.")
    for row in alerted.itertuples():
        st.error(
            f"{_time(row.measured_at)} · model v{row.model_version} · {row.label} = "
            f"{row.value:.3f} (alert from {row.alert_threshold:g})"
        )
    limits = data.thresholds(measured)
    if limits is None:
        _no_data(f"{tables.DRIFT} has no PSI measurement", "`segstream drift` measures it.")
    else:
        warn, alert = limits
        st.plotly_chart(charts.psi_latest(data.latest_drift(measured), warn, alert))
        st.plotly_chart(charts.psi_history(data.psi_history(measured), warn, alert))
    shares = data.share_over_time(reads.read(settings, tables.SEGMENT_SNAPSHOTS))
    if shares.empty:
        _no_data(f"{tables.SEGMENT_SNAPSHOTS} is empty", "Snapshots start with the first model.")
    else:
        st.plotly_chart(charts.share_over_time(shares))
    window = timedelta(seconds=settings.monitor_window_s)
    since = _now() - window
    history = reads.read(
        settings,
        tables.SEGMENT_HISTORY,
        ["from_segment_name", "to_segment_name", "processed_at"],
    )
    moved = data.migrations(history, since)
    st.subheader(f"Segment changes in the last {window}")
    if moved.empty:
        _no_data("no segment changes in this window", "Changes come from purchases and rescores.")
    else:
        st.plotly_chart(charts.migrations(moved))


def stream_health(settings: Settings) -> None:
    st.header("Stream health")
    now = _now()
    window = timedelta(seconds=settings.monitor_window_s)
    metrics = reads.read(settings, tables.STREAM_METRICS)
    recent = metrics[metrics["started_at"] >= now - window] if not metrics.empty else metrics
    summary = data.stream_summary(metrics, now)
    live = feed.recent_latency(settings)
    if summary is None and live is None:
        _no_data(f"{tables.STREAM_METRICS} is empty", "Start the stream: `segstream stream`.")
    else:

        def latency(p50: float | None, p95: float | None) -> str:
            return "-" if p50 is None else f"{p50:.1f} / {p95 or 0:.1f} s"

        cols = st.columns(6)
        if summary is None:
            cols[0].metric("Last lake batch", "-", help="the lake has written no batch yet")
            cols[1].metric("Events", "-")
        else:
            cols[0].metric("Last lake batch", f"{summary.last_batch_age_s:.0f} s ago")
            cols[1].metric("Events", f"{summary.events:,}")
        if live is not None:
            cols[2].metric(
                "To the feed p50 / p95",
                latency(live.p50_s, live.p95_s),
                help=f"now: the newest {live.records:,} purchase records of "
                f"{settings.topic_customer_scores}, the newest published {_time(live.newest_at)}",
            )
        else:
            cols[2].metric(
                "To the feed p50 / p95",
                latency(summary.feed_p50_s, summary.feed_p95_s) if summary else "-",
                help="as the lake's last batch recorded it: no purchase record could be read "
                f"from {settings.topic_customer_scores} (none yet, or the broker did not answer)",
            )
        cols[3].metric(
            "To Delta p50 / p95",
            latency(summary.lake_p50_s, summary.lake_p95_s) if summary else "-",
        )
        cols[4].metric("Quarantined", f"{summary.quarantined:,}" if summary else "-")
        state = reads.state_bytes(settings)
        cols[5].metric("Customer state", "-" if state is None else f"{state / 2**20:,.1f} MiB")
        rates = data.stream_rates(recent)
        if not rates.empty:
            st.plotly_chart(charts.event_rate(rates))
            st.plotly_chart(charts.latency(rates))
    reasons = data.quarantine_by_reason(reads.read(settings, tables.QUARANTINE, ["reason"]))
    st.subheader("Quarantine")
    if reasons.empty:
        st.success("No message has been quarantined.")
    else:
        st.plotly_chart(charts.quarantine(reasons))
        st.table(reasons.set_index("reason"))


def models(settings: Settings) -> None:
    st.header("Models")
    versions = data.model_versions(reads.read(settings, tables.MODELS))
    if versions.empty:
        _no_data(f"{tables.MODELS} is empty", "`segstream retrain` trains the first model.")
        return
    shown = versions.assign(
        trained_at=versions["trained_at"].map(_time),
        promoted_at=versions["promoted_at"].map(_time),
    )
    st.table(shown.set_index("version").round(4))
