"""The `transactions` micro-batch body in-process: Kafka-shaped rows in, exact tables out.

Two batches through the real body (no broker, no streaming query): bad messages land in
quarantine with their coordinates, totals and segments are exact against hand-computed
values, a segment change is one history row, and replaying a batch id changes nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from segstream.config import Settings
from segstream.contracts import quarantine as Q
from segstream.contracts import tables
from segstream.lake import reads, writes
from segstream.model import registry
from segstream.model.record import SegmentModel
from segstream.testing import kafka_frame
from streaming import transforms
from streaming.metrics import MetricsRecorder
from streaming.micro_batch import TABLES, TransactionsMicroBatch
from streaming.model_cache import ModelCache
from tests.conftest import make_settings

pytestmark = pytest.mark.spark

# Nearest centroid by net money alone: both centroids sit at recency 0 and frequency 0.
MODEL = SegmentModel(
    version=0,
    trained_at=datetime(2024, 1, 1, tzinfo=UTC),
    as_of=datetime(2024, 1, 1, tzinfo=UTC),
    rows=2,
    features=("recency_days", "frequency", "monetary"),
    transforms=("identity", "identity", "identity"),
    mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0),
    centroids=((0.0, 0.0, 0.0), (0.0, 0.0, 100.0)),
    segment_ids=(1, 2),
    segment_names=("Small", "Big"),
    engine="sklearn",
)


def _event(
    event_id: str, kind: str, customer: str, order: str, day: int, amount: str, qty: int
) -> tuple[bytes, bytes]:
    body = {
        "event_id": event_id,
        "event_type": kind,
        "customer_id": customer,
        "order_id": order,
        "event_time": f"2024-01-{day:02d}T00:00:00+00:00",
        "amount": float(amount),
        "items": [{"sku": "s1", "category": "books", "quantity": qty, "unit_price": 1.0}]
        if qty
        else [],
        "produced_at": "2024-01-10T00:00:00+00:00",
    }
    return customer.encode(), json.dumps(body).encode()


BATCH_0 = [
    _event("e1", "purchase", "c1", "o1", 1, "30.00", 2),
    _event("e2", "purchase", "c2", "o2", 2, "80.00", 1),
    (b"c9", b"{not json"),
    _event("e3", "return", "c1", "o1", 3, "5.00", 0),
]
SEGMENT_COLS = ("customer_id", "segment_name", "model_version", "recency_days", "monetary", "cause")
BATCH_1 = [_event("e4", "purchase", "c1", "o4", 4, "100.00", 3)]


def _run(
    spark, settings: Settings, handler: TransactionsMicroBatch, batch, batch_id: int, offset: int
) -> None:  # type: ignore[no-untyped-def]
    raw = kafka_frame(spark, batch, first_offset=offset)
    handler(transforms.dedupe_key(transforms.parse(raw)), batch_id)


def _rows(spark, settings: Settings, name: str, *cols: str) -> set[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    def hashable(value: object) -> object:
        return bytes(value) if isinstance(value, bytearray) else value

    rows = reads.table(spark, settings, name).select(*cols).collect()
    return {tuple(hashable(v) for v in r) for r in rows}


def _utc(day: int) -> datetime:
    return datetime(2024, 1, day, tzinfo=UTC)


def _naive(ts: datetime) -> float:
    # PySpark returns naive datetimes in the process's zone; compared as epoch seconds.
    return ts.astimezone().timestamp()


def test_two_batches_and_a_replay_give_exact_tables(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path)
    writes.ensure_all(spark, settings, TABLES)
    stored = registry.register(spark, settings, MODEL)
    registry.promote(spark, settings, stored.version)
    recorder = MetricsRecorder(
        "transactions", settings.table_path(tables.STREAM_METRICS), "test-app"
    )
    handler = TransactionsMicroBatch(
        spark, settings, "test-app", ModelCache(spark, settings), recorder
    )

    _run(spark, settings, handler, BATCH_0, 0, offset=0)

    assert _rows(spark, settings, tables.EVENTS, "event_id", "kafka_offset", "batch_id") == {
        ("e1", 0, 0),
        ("e2", 1, 0),
        ("e3", 3, 0),
    }
    assert _rows(
        spark, settings, tables.QUARANTINE, "reason", "raw_key", "raw_value", "kafka_offset"
    ) == {(Q.INVALID_JSON, b"c9", b"{not json", 2)}
    rfm = {r.customer_id: r for r in reads.table(spark, settings, tables.CUSTOMER_RFM).collect()}
    assert set(rfm) == {"c1", "c2"}
    assert (rfm["c1"].orders, rfm["c1"].gross_revenue, rfm["c1"].returns_amount) == (
        1,
        Decimal("30.00"),
        Decimal("5.00"),
    )
    assert (rfm["c1"].monetary, rfm["c1"].items) == (Decimal("25.00"), 2)
    assert _naive(rfm["c1"].last_purchase_at) == _utc(1).timestamp()
    assert _naive(rfm["c1"].last_event_at) == _utc(3).timestamp()
    assert (rfm["c2"].orders, rfm["c2"].monetary, rfm["c2"].items) == (1, Decimal("80.00"), 1)

    # As of the newest event (Jan 3): c1 last bought 2 days before, c2 1 day before.
    assert _rows(spark, settings, tables.CUSTOMER_SEGMENTS, *SEGMENT_COLS) == {
        ("c1", "Small", stored.version, 2.0, 25.0, "purchase"),
        ("c2", "Big", stored.version, 1.0, 80.0, "purchase"),
    }
    history_cols = ("customer_id", "from_segment_name", "to_segment_name", "cause", "batch_id")
    assert _rows(spark, settings, tables.SEGMENT_HISTORY, *history_cols) == {
        ("c1", None, "Small", "purchase", 0),
        ("c2", None, "Big", "purchase", 0),
    }

    _run(spark, settings, handler, BATCH_1, 1, offset=4)
    replay_before = {
        name: reads.version(spark, settings, name)
        for name in (
            tables.EVENTS,
            tables.CUSTOMER_RFM,
            tables.CUSTOMER_SEGMENTS,
            tables.SEGMENT_HISTORY,
        )
    }
    # A crash after the writes: the batch comes again with the same id and rows.
    _run(spark, settings, handler, BATCH_1, 1, offset=4)

    for name, version in replay_before.items():
        assert reads.version(spark, settings, name) == version, name
    assert _rows(spark, settings, tables.EVENTS, "event_id") == {("e1",), ("e2",), ("e3",), ("e4",)}
    c1 = [
        r
        for r in reads.table(spark, settings, tables.CUSTOMER_RFM).collect()
        if r.customer_id == "c1"
    ]
    assert (c1[0].orders, c1[0].monetary, c1[0].items) == (2, Decimal("125.00"), 5)
    assert _rows(spark, settings, tables.SEGMENT_HISTORY, *history_cols) == {
        ("c1", None, "Small", "purchase", 0),
        ("c2", None, "Big", "purchase", 0),
        ("c1", "Small", "Big", "purchase", 1),
    }
    assert ("c1", "Big", stored.version, 0.0, 125.0, "purchase") in _rows(
        spark, settings, tables.CUSTOMER_SEGMENTS, *SEGMENT_COLS
    )
