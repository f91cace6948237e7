"""The `transactions` micro-batch body in-process: Kafka-shaped rows in, exact tables out.

Batches through the real body (no broker, no streaming query; the feed's records are
collected instead of published, its Kafka path is tested against the real broker in
tests/integration): bad messages land in quarantine with their coordinates, totals and
segments are exact against hand-computed values, a segment change is one history row and one
feed record, replaying a batch id changes nothing, and a batch replayed after a crash scores
with the model and as-of of its first attempt even when another model was promoted since.
"""

from __future__ import annotations

import dataclasses
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
from streaming.batch_plans import BatchPlans
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
    event_id: str,
    kind: str,
    customer: str,
    order: str,
    day: int,
    amount: str,
    qty: int,
    month: int = 1,
) -> tuple[bytes, bytes]:
    body = {
        "event_id": event_id,
        "event_type": kind,
        "customer_id": customer,
        "order_id": order,
        "event_time": f"2024-{month:02d}-{day:02d}T00:00:00+00:00",
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


class Feed:
    """Collects the records the body publishes, as parsed JSON values keyed by customer."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.records: list[tuple[str, dict[str, object]]] = []
        self._fail_after = fail_after

    def __call__(self, records) -> None:  # type: ignore[no-untyped-def]
        for r in records.collect():
            self.records.append((bytes(r.key).decode(), json.loads(bytes(r.value))))
        if self._fail_after is not None and len(self.records) >= self._fail_after:
            raise RuntimeError("crash right after publishing")


def _handler(spark, settings: Settings, feed: Feed) -> TransactionsMicroBatch:  # type: ignore[no-untyped-def]
    recorder = MetricsRecorder("transactions", settings.table_path(tables.STREAM_METRICS), "app")
    plans = BatchPlans(settings.checkpoint_path("transactions") / "segstream-plans")
    return TransactionsMicroBatch(
        spark, settings, "app", ModelCache(spark, settings), recorder, plans, feed
    )


def _promote(spark, settings: Settings, model: SegmentModel) -> int:  # type: ignore[no-untyped-def]
    stored = registry.register(spark, settings, model)
    registry.promote(spark, settings, stored.version)
    return stored.version


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
    version = _promote(spark, settings, MODEL)
    feed = Feed()
    handler = _handler(spark, settings, feed)

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
        ("c1", "Small", version, 2.0, 25.0, "purchase"),
        ("c2", "Big", version, 1.0, 80.0, "purchase"),
    }
    history_cols = ("customer_id", "from_segment_name", "to_segment_name", "cause", "batch_id")
    assert _rows(spark, settings, tables.SEGMENT_HISTORY, *history_cols) == {
        ("c1", None, "Small", "purchase", 0),
        ("c2", None, "Big", "purchase", 0),
    }

    assert sorted((k, v["change_id"], v["to_segment_name"]) for k, v in feed.records) == [
        ("c1", "app/0/c1", "Small"),
        ("c2", "app/0/c2", "Big"),
    ]
    c1_first = dict(feed.records)["c1"]
    assert (c1_first["from_segment_id"], c1_first["cause"], c1_first["model_version"]) == (
        None,
        "purchase",
        version,
    )
    assert (c1_first["event_time"], c1_first["as_of"]) == (
        "2024-01-03T00:00:00.000000Z",
        "2024-01-03T00:00:00.000000Z",
    )
    assert (c1_first["recency_days"], c1_first["frequency"], c1_first["monetary"]) == (
        2.0,
        1.0,
        25.0,
    )

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

    for name, table_version in replay_before.items():
        assert reads.version(spark, settings, name) == table_version, name
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
    # One record for the change of batch 1; its replay found nothing changed (the first
    # attempt's upsert had committed) and published nothing.
    assert [(k, v["change_id"], v["from_segment_name"]) for k, v in feed.records[2:]] == [
        ("c1", "app/1/c1", "Small")
    ]
    assert ("c1", "Big", version, 0.0, 125.0, "purchase") in _rows(
        spark, settings, tables.CUSTOMER_SEGMENTS, *SEGMENT_COLS
    )


# The same centroids with their segments swapped.
SWAPPED = dataclasses.replace(MODEL, segment_ids=(2, 1), segment_names=("Big", "Small"))


def test_a_batch_replayed_after_a_crash_scores_with_its_first_model_and_as_of(
    spark, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path)
    writes.ensure_all(spark, settings, TABLES)
    first = _promote(spark, settings, MODEL)
    crashing = Feed(fail_after=2)
    with pytest.raises(RuntimeError, match="crash right after publishing"):
        _run(spark, settings, _handler(spark, settings, crashing), BATCH_0, 0, offset=0)
    # Between the crash and the restart another model is promoted.
    second = _promote(spark, settings, SWAPPED)

    replayed = Feed()
    _run(spark, settings, _handler(spark, settings, replayed), BATCH_0, 0, offset=0)

    assert sorted(replayed.records, key=str) == sorted(crashing.records, key=str)
    assert {v["model_version"] for _, v in replayed.records} == {first}
    history_cols = ("customer_id", "to_segment_name", "model_version", "batch_id")
    assert _rows(spark, settings, tables.SEGMENT_HISTORY, *history_cols) == {
        ("c1", "Small", first, 0),
        ("c2", "Big", first, 0),
    }
    assert _rows(spark, settings, tables.CUSTOMER_SEGMENTS, "customer_id", "model_version") == {
        ("c1", first),
        ("c2", first),
    }
    # A new batch scores with the model promoted now.
    _run(spark, settings, _handler(spark, settings, replayed), BATCH_1, 1, offset=4)
    assert ("c1", second) in _rows(
        spark, settings, tables.CUSTOMER_SEGMENTS, "customer_id", "model_version"
    )


def test_an_event_far_ahead_of_the_data_is_quarantined_and_ages_nobody(
    spark, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, as_of_max_ahead_days=30)
    writes.ensure_all(spark, settings, TABLES)
    version = _promote(spark, settings, MODEL)
    handler = _handler(spark, settings, Feed())
    _run(spark, settings, handler, BATCH_0, 0, offset=0)
    # As of Jan 3: Feb 5 is more than 30 days ahead, Jan 5 is not.
    ahead = [
        _event("e5", "purchase", "c1", "o5", 5, "1.00", 1),
        _event("e6", "purchase", "c1", "o6", 5, "500.00", 1, month=2),
    ]
    _run(spark, settings, handler, ahead, 1, offset=4)

    assert _rows(spark, settings, tables.QUARANTINE, "reason", "kafka_offset") == {
        (Q.INVALID_JSON, 2),
        (Q.BEYOND_AS_OF, 5),
    }
    assert ("e6",) not in _rows(spark, settings, tables.EVENTS, "event_id")
    rfm = {r.customer_id: r for r in reads.table(spark, settings, tables.CUSTOMER_RFM).collect()}
    assert (rfm["c1"].orders, rfm["c1"].monetary) == (2, Decimal("26.00"))
    # Scored as of Jan 5, the newest event counted, not Feb 5.
    assert ("c1", "Small", version, 0.0, 26.0, "purchase") in _rows(
        spark, settings, tables.CUSTOMER_SEGMENTS, *SEGMENT_COLS
    )
    assert ("c2", "Big", version, 1.0, 80.0, "purchase") in _rows(
        spark, settings, tables.CUSTOMER_SEGMENTS, *SEGMENT_COLS
    )
