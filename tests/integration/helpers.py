"""Helpers shared by the integration tests: run segstream as users do, read Delta and the
feed back, and check segments, history and feed against independent recomputations."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from kafka import KafkaConsumer

from producers.pacing import Pacer
from producers.publisher import Publisher
from segstream.config import Settings
from segstream.contracts import tables
from segstream.contracts.events import Event
from segstream.model.features import pandas_features
from segstream.model.record import SegmentModel
from segstream.model.scoring import score_numpy


def run_cli(
    settings: Settings, *args: str, timeout: float = 600, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """Runs `segstream ARGS` in a subprocess with these settings; fails the test on error
    (with `ok=False`: when it succeeds)."""
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=settings.to_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    outcome = "failed" if ok else "succeeded"
    assert (proc.returncode == 0) == ok, (
        f"segstream {' '.join(args)} {outcome}:\n{proc.stdout}\n{proc.stderr}"
    )
    return proc


def publish(
    settings: Settings, events: list[Event], raw: Sequence[tuple[bytes, bytes]] = ()
) -> int:
    """Publishes `events`, then `raw` (key, value) messages to `transactions`; returns how
    many the broker acknowledged."""
    publisher = Publisher(settings)
    for e in events:
        publisher.send_event(e)
    for key, value in raw:
        publisher.send_raw(settings.topic_transactions, key, value)
    publisher.close()
    return publisher.acked


def produce_paced(settings: Settings, events: list[Event], rate: float) -> None:
    """Publishes `events` at `rate` per second (a producer thread's body)."""
    publisher = Publisher(settings)
    pacer = Pacer(rate)
    for e in events:
        pacer.wait()
        publisher.send_event(e)
    publisher.close()


def expected_rfm(events: list[Event]) -> pd.DataFrame:
    """customer_rfm recomputed with pandas from the events as produced (independent code)."""
    rows = [
        {
            "customer_id": e.customer_id,
            "type": e.event_type,
            "order_id": e.order_id,
            "time": pd.Timestamp(e.event_time).tz_convert("UTC").tz_localize(None),
            "amount": e.amount,
            "qty": sum(i.quantity for i in e.items),
        }
        for e in events
    ]
    df = pd.DataFrame(rows)
    out = []
    for customer, g in df.groupby("customer_id"):
        buys = g[g["type"] == "purchase"]
        rets = g[g["type"] == "return"]
        gross = sum(buys["amount"], Decimal("0.00"))
        returned = sum(rets["amount"], Decimal("0.00"))
        out.append(
            {
                "customer_id": customer,
                "first_purchase_at": buys["time"].min() if len(buys) else pd.NaT,
                "last_purchase_at": buys["time"].max() if len(buys) else pd.NaT,
                "orders": buys["order_id"].nunique(),
                "gross_revenue": gross,
                "returns_amount": returned,
                "monetary": gross - returned,
                "items": int(buys["qty"].sum()),
                "last_event_at": g["time"].max(),
            }
        )
    frame = pd.DataFrame(out).set_index("customer_id").sort_index()
    frame = frame.astype({"orders": "int64", "items": "int64"})
    for col in ("first_purchase_at", "last_purchase_at", "last_event_at"):
        frame[col] = frame[col].astype("datetime64[us]")
    return frame


def read_rfm(spark, settings: Settings) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    df = spark.read.format("delta").load(str(settings.table_path(tables.CUSTOMER_RFM)))
    pdf = df.drop("updated_at").toPandas().set_index("customer_id").sort_index()
    for col in ("first_purchase_at", "last_purchase_at", "last_event_at"):
        pdf[col] = pd.to_datetime(pdf[col]).astype("datetime64[us]")
    return pdf


def table(spark, settings: Settings, name: str) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return spark.read.format("delta").load(str(settings.table_path(name))).toPandas()


FEATURES = ("recency_days", "frequency", "monetary")


def model_for(
    version: int, rfm: pd.DataFrame, centroids: tuple[tuple[float, ...], ...]
) -> SegmentModel:
    """A two-segment model standardised on `rfm` (expected_rfm rows) with these centroids."""
    x = pandas_features(rfm, rfm["last_event_at"].max())[list(FEATURES)].to_numpy()
    z = np.column_stack([x[:, 0], np.log1p(x[:, 1]), np.log1p(x[:, 2])])
    return SegmentModel(
        version=version,
        trained_at=datetime(2024, 1, 1, tzinfo=UTC),
        as_of=datetime(2024, 1, 1, tzinfo=UTC),
        rows=len(rfm),
        features=FEATURES,
        transforms=("identity", "log1p", "log1p"),
        mean=tuple(float(v) for v in z.mean(axis=0)),
        std=tuple(float(v) for v in z.std(axis=0)),
        centroids=centroids,
        segment_ids=(1, 2),
        segment_names=("Champions", "At Risk"),
        engine="sklearn",
    )


def check_segments(
    spark,  # type: ignore[no-untyped-def]
    settings: Settings,
    model: SegmentModel,
    rfm: pd.DataFrame,
) -> pd.DataFrame:
    """customer_segments: every customer of `rfm`, scored with `model` at the as-of it
    records (at least its newest event, at most the newest event of all), recomputed with
    NumPy; returns the table."""
    segments = table(spark, settings, tables.CUSTOMER_SEGMENTS).set_index("customer_id")
    assert sorted(segments.index) == sorted(rfm.index)
    assert set(segments["model_version"]) == {model.version}
    as_of = pd.to_datetime(segments["as_of"]).astype("datetime64[us]")
    last = rfm["last_event_at"].reindex(as_of.index)
    assert (as_of >= last).all() and (as_of <= last.max()).all()
    for at, ids in as_of.groupby(as_of).groups.items():
        chosen = rfm.loc[sorted(ids)]
        x = pandas_features(chosen, at)[list(model.features)].to_numpy()
        want = dict(
            zip(chosen.index, (int(i) for i in score_numpy(model, x).segment_id), strict=True)
        )
        assert {c: int(segments.loc[c, "segment_id"]) for c in chosen.index} == want
    return segments


def check_history(history: pd.DataFrame, segments: pd.DataFrame) -> None:
    """Each customer's rows in order are its real transitions: the first from nothing, each
    `from` the `to` before it, the last `to` the segment it holds."""
    for customer, rows in history.sort_values("processed_at").groupby("customer_id"):
        froms = [None if pd.isna(f) else int(f) for f in rows["from_segment_id"]]
        tos = [int(t) for t in rows["to_segment_id"]]
        assert froms == [None, *tos[:-1]], customer
        assert tos[-1] == int(segments.loc[customer, "segment_id"]), customer
    assert set(history["customer_id"]) == set(segments.index)


def feed(settings: Settings) -> list[dict[str, Any]]:
    """Every record of the segment-changes topic, read from the beginning to its end."""
    consumer = KafkaConsumer(
        settings.topic_segment_changes,
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=5_000,
        **settings.kafka_client_options(),
    )
    try:
        records = []
        for message in consumer:
            value = json.loads(message.value)
            assert message.key.decode() == value["customer_id"]
            records.append(value)
        return records
    finally:
        consumer.close()


def check_feed(records: list[dict[str, Any]], history: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """After dedupe by change id: per customer, in the order of the topic, an exact chain
    (the first change from nothing, each `from` the `to` before it); one record per history
    row, the same change; and per customer (in the order of its changes) an as-of that never
    goes back. Returns the deduplicated records by change id."""
    by_id: dict[str, dict[str, Any]] = {}
    for r in records:
        # A replay republishes a change identically.
        assert by_id.setdefault(r["change_id"], r) == r
    chains: dict[str, list[tuple[int | None, int]]] = {}
    for r in by_id.values():
        chains.setdefault(r["customer_id"], []).append((r["from_segment_id"], r["to_segment_id"]))
    for customer, chain in chains.items():
        froms = [f for f, _ in chain]
        assert froms == [None, *(t for _, t in chain[:-1])], (customer, chain)
    assert len(by_id) == len(history)

    def change(
        c: str, f: object, t: int, n: str, v: int, cause: str, at: pd.Timestamp
    ) -> tuple[object, ...]:
        # A first segment's missing "from" sorts as -1.
        return (c, -1 if f is None or pd.isna(f) else int(f), int(t), n, int(v), cause, at)

    fed = sorted(
        change(
            r["customer_id"],
            r["from_segment_id"],
            r["to_segment_id"],
            r["to_segment_name"],
            r["model_version"],
            r["cause"],
            pd.Timestamp(r["event_time"]).tz_convert("UTC").tz_localize(None),
        )
        for r in by_id.values()
    )
    kept = sorted(
        change(c, f, t, n, v, cause, pd.Timestamp(at))
        for c, f, t, n, v, cause, at in zip(
            history["customer_id"],
            history["from_segment_id"],
            history["to_segment_id"],
            history["to_segment_name"],
            history["model_version"],
            history["cause"],
            history["event_time"],
            strict=True,
        )
    )
    assert fed == kept
    mine: dict[str, list[tuple[int, pd.Timestamp]]] = {}
    for r in by_id.values():
        n_inputs = int(r["change_id"].rsplit("/", 1)[1])
        mine.setdefault(r["customer_id"], []).append((n_inputs, pd.Timestamp(r["as_of"])))
    for customer, changes in mine.items():
        as_ofs = [at for _, at in sorted(changes)]
        assert as_ofs == sorted(as_ofs), customer
    return by_id
