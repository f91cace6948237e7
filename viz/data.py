"""What the monitor's pages show, computed from table frames as `viz.lake` reads them.

Pure functions: frames in, frames (or small records) out, no I/O and no clock; the caller
passes `now` or `since` where time matters. An empty input gives an empty output with the
same columns, so the pages need one "no data yet" check each.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from segstream.model.record import SegmentModel

# The "from" label of a customer scored for the first time (no previous segment).
NEW_CUSTOMER = "(new)"
PSI_METRICS = ("feature_psi", "segment_share_psi")
_DAY_S = 86_400.0

SIZE_COLUMNS = ["segment_id", "segment_name", "customers", "share"]
PROFILE_COLUMNS = [
    "segment_id",
    "segment_name",
    "customers",
    "recency_days",
    "frequency",
    "monetary",
]
SHARE_COLUMNS = ["snapshot_time", "kind", "model_version", "segment_name", "customers", "share"]
DRIFT_COLUMNS = [
    "measured_at",
    "model_version",
    "metric",
    "subject",
    "label",
    "value",
    "warn_threshold",
    "alert_threshold",
    "level",
]
MIGRATION_COLUMNS = ["from_segment", "to_segment", "customers"]
RATE_COLUMNS = [
    "query",
    "started_at",
    "input_rows",
    "events_per_s",
    "latency_p50_s",
    "latency_p95_s",
]
QUARANTINE_COLUMNS = ["reason", "messages"]
MODEL_COLUMNS = [
    "version",
    "status",
    "k",
    "engine",
    "rows",
    "trained_at",
    "promoted_at",
    "silhouette",
    "inertia",
    "segments",
]


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


def segment_sizes(segments: pd.DataFrame) -> pd.DataFrame:
    """Customers and share of each current segment, in segment id order.

    Args:
        segments: `customer_segments` rows (needs `segment_id`, `segment_name`).
    """
    if segments.empty:
        return _empty(SIZE_COLUMNS)
    sizes = segments.groupby(["segment_id", "segment_name"]).size().reset_index(name="customers")
    sizes["share"] = sizes["customers"] / sizes["customers"].sum()
    return sizes.sort_values("segment_id", ignore_index=True)[SIZE_COLUMNS]


def rfm_profile(segments: pd.DataFrame, rfm: pd.DataFrame) -> pd.DataFrame:
    """Mean recency (days), frequency (orders) and monetary (net) of each current segment.

    The values come from `customer_rfm` as it is now, so they are fresher than the features
    stored at scoring. Recency is measured, like the model's, from the last purchase (the
    last event for a customer with returns only) to the newest event time in the table.

    Args:
        segments: `customer_segments` rows (`customer_id`, `segment_id`, `segment_name`).
        rfm: `customer_rfm` rows (`customer_id`, `last_purchase_at`, `last_event_at`,
            `orders`, `monetary`).
    """
    if segments.empty or rfm.empty:
        return _empty(PROFILE_COLUMNS)
    as_of = rfm["last_event_at"].max()
    last = rfm["last_purchase_at"].fillna(rfm["last_event_at"])
    features = pd.DataFrame(
        {
            "customer_id": rfm["customer_id"],
            "recency_days": ((as_of - last).dt.total_seconds() / _DAY_S).clip(lower=0.0),
            "frequency": rfm["orders"].astype("float64"),
            "monetary": rfm["monetary"].astype("float64"),
        }
    )
    joined = segments[["customer_id", "segment_id", "segment_name"]].merge(
        features, on="customer_id"
    )
    if joined.empty:
        return _empty(PROFILE_COLUMNS)
    profile = joined.groupby(["segment_id", "segment_name"]).agg(
        customers=("customer_id", "size"),
        recency_days=("recency_days", "mean"),
        frequency=("frequency", "mean"),
        monetary=("monetary", "mean"),
    )
    return profile.reset_index().sort_values("segment_id", ignore_index=True)[PROFILE_COLUMNS]


def share_over_time(snapshots: pd.DataFrame) -> pd.DataFrame:
    """Each segment's share at each snapshot, oldest first (reference and scheduled alike)."""
    if snapshots.empty:
        return _empty(SHARE_COLUMNS)
    ordered = snapshots.sort_values(["snapshot_time", "segment_id"], ignore_index=True)
    return ordered[SHARE_COLUMNS]


def _labelled(drift: pd.DataFrame) -> pd.DataFrame:
    out = drift.copy()
    out["label"] = out["metric"] + ": " + out["subject"]
    return out[DRIFT_COLUMNS]


def latest_drift(drift: pd.DataFrame) -> pd.DataFrame:
    """The measurements of the newest drift run, labelled `metric: subject`."""
    if drift.empty:
        return _empty(DRIFT_COLUMNS)
    newest = drift.loc[drift["measured_at"].idxmax(), "run_id"]
    run = drift[drift["run_id"] == newest].sort_values(["metric", "subject"], ignore_index=True)
    return _labelled(run)


def psi_history(drift: pd.DataFrame) -> pd.DataFrame:
    """Every PSI measurement (feature and segment share), oldest first."""
    psi = drift[drift["metric"].isin(PSI_METRICS)]
    if psi.empty:
        return _empty(DRIFT_COLUMNS)
    return _labelled(psi.sort_values(["measured_at", "metric", "subject"], ignore_index=True))


def alerts(drift: pd.DataFrame) -> pd.DataFrame:
    """The measurements that alerted, newest first."""
    alerted = drift[drift["alert"].astype(bool)] if not drift.empty else drift
    if alerted.empty:
        return _empty(DRIFT_COLUMNS)
    return _labelled(alerted.sort_values("measured_at", ascending=False, ignore_index=True))


def thresholds(drift: pd.DataFrame) -> tuple[float, float] | None:
    """(warn, alert) PSI thresholds of the newest PSI measurement, or None if there is none.

    Taken from the table rather than the settings: they are what the measurement applied.
    """
    psi = drift[drift["metric"].isin(PSI_METRICS)].dropna(
        subset=["warn_threshold", "alert_threshold"]
    )
    if psi.empty:
        return None
    row = psi.loc[psi["measured_at"].idxmax()]
    return float(row["warn_threshold"]), float(row["alert_threshold"])


def migrations(history: pd.DataFrame, since: pd.Timestamp) -> pd.DataFrame:
    """Segment changes processed at or after `since`, counted per (from, to) segment name.

    Args:
        history: `segment_history` rows (`from_segment_name`, `to_segment_name`,
            `processed_at`).
        since: start of the window (UTC).
    """
    recent = history[history["processed_at"] >= since] if not history.empty else history
    if recent.empty:
        return _empty(MIGRATION_COLUMNS)
    pairs = pd.DataFrame(
        {
            "from_segment": recent["from_segment_name"].fillna(NEW_CUSTOMER),
            "to_segment": recent["to_segment_name"],
        }
    )
    counts = pairs.groupby(["from_segment", "to_segment"]).size().reset_index(name="customers")
    return counts.sort_values(["from_segment", "to_segment"], ignore_index=True)


def migration_matrix(counts: pd.DataFrame) -> pd.DataFrame:
    """The counts of `migrations` as a matrix: rows are "from" segments, columns "to"."""
    matrix = counts.pivot_table(
        index="from_segment", columns="to_segment", values="customers", aggfunc="sum", fill_value=0
    )
    return matrix.astype("int64")


def stream_rates(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per micro-batch of each query: arrival rate and end-to-end latency.

    `events_per_s` is the batch's input rows over the time since the previous batch of the
    same query started: the rate events arrived at, idle gaps included (the stored
    `rows_per_s` is the processing rate instead). The first batch of a query has no rate.
    """
    if metrics.empty:
        return _empty(RATE_COLUMNS)
    ordered = metrics.sort_values(["query", "started_at"], ignore_index=True)
    gap_s = ordered.groupby("query")["started_at"].diff().dt.total_seconds()
    ordered["events_per_s"] = ordered["input_rows"] / gap_s.where(gap_s > 0)
    return ordered[RATE_COLUMNS]


@dataclass(frozen=True)
class StreamSummary:
    """The stream at a glance: totals, the newest batch's age, and the newest latencies from
    `produced_at` to the segment feed and to Delta (`customer_segments`)."""

    batches: int
    events: int
    quarantined: int
    last_batch_age_s: float
    feed_p50_s: float | None
    feed_p95_s: float | None
    lake_p50_s: float | None
    lake_p95_s: float | None


def _optional(value: object) -> float | None:
    return None if pd.isna(value) else float(value)  # type: ignore[arg-type]


# The rows of `stream_metrics` that count the messages of `transactions` (the `lake` query,
# streaming/lake_writer.py), and measure the latency to the feed and to `customer_segments`
# (the `customer-tables` query, streaming/customer_tables.py).
MESSAGES, FEED, LAKE = "transactions", "feed", "lake"


def _newest_latency(metrics: pd.DataFrame, query: str) -> tuple[float | None, float | None]:
    rows = metrics[(metrics["query"] == query) & metrics["latency_p50_s"].notna()]
    if rows.empty:
        return None, None
    last = rows.loc[rows["started_at"].idxmax()]
    return _optional(last["latency_p50_s"]), _optional(last["latency_p95_s"])


def stream_summary(metrics: pd.DataFrame, now: pd.Timestamp) -> StreamSummary | None:
    """Totals over `metrics`, the newest batch's age (since it ended) and latencies."""
    if metrics.empty:
        return None
    ended = metrics["started_at"] + pd.to_timedelta(metrics["batch_duration_s"], unit="s")
    checks = metrics[metrics["query"] == MESSAGES]
    feed = _newest_latency(metrics, FEED)
    lake = _newest_latency(metrics, LAKE)
    return StreamSummary(
        batches=len(metrics),
        events=int(checks["input_rows"].sum()),
        quarantined=int(checks["quarantined_rows"].sum()),
        last_batch_age_s=max(0.0, (now - ended.max()).total_seconds()),
        feed_p50_s=feed[0],
        feed_p95_s=feed[1],
        lake_p50_s=lake[0],
        lake_p95_s=lake[1],
    )


def quarantine_by_reason(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Rejected messages per reason code, most frequent first."""
    if quarantine.empty:
        return _empty(QUARANTINE_COLUMNS)
    counts = quarantine.groupby("reason").size().reset_index(name="messages")
    return counts.sort_values(["messages", "reason"], ascending=[False, True], ignore_index=True)


def model_versions(models: pd.DataFrame) -> pd.DataFrame:
    """Every model version, newest first, with its quality metrics and segment names."""
    if models.empty:
        return _empty(MODEL_COLUMNS)
    records = [SegmentModel.from_json(text) for text in models["record"]]
    out = models[["version", "status", "k", "engine", "rows", "trained_at", "promoted_at"]].copy()
    out["silhouette"] = [r.metrics.get("silhouette") for r in records]
    out["inertia"] = [r.metrics.get("inertia") for r in records]
    out["segments"] = [", ".join(r.segment_names) for r in records]
    return out.sort_values("version", ascending=False, ignore_index=True)[MODEL_COLUMNS]


def promoted(models: pd.DataFrame) -> pd.Series | None:
    """The promoted model's row of `model_versions`, or None before the first promotion."""
    versions = model_versions(models)
    rows = versions[versions["status"] == "promoted"]
    return None if rows.empty else rows.iloc[0]
