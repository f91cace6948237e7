"""The stream's pure steps on tiny DataFrames: exact reasons, exact aggregates."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest
from pyspark.sql import types as T

from segstream.contracts import quarantine as Q
from segstream.testing import KAFKA_SCHEMA
from streaming import transforms

pytestmark = pytest.mark.spark

# The Kafka source's rows without `timestampType`, which the stream never reads.
RAW_SCHEMA = T.StructType(KAFKA_SCHEMA.fields[:6])

GOOD = {
    "event_id": "e1",
    "event_type": "purchase",
    "customer_id": "c1",
    "order_id": "o1",
    "event_time": "2024-01-02T03:04:05.123456+00:00",
    "amount": 10.5,
    "items": [{"sku": "s", "category": "books", "quantity": 2, "unit_price": 5.25}],
}


def _with(**changes: object) -> bytes:
    body = {**GOOD, **changes}
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


CASES: list[tuple[bytes | None, str | None]] = [
    (_with(), None),
    (b"", Q.EMPTY_MESSAGE),
    (b"x" * 70_000, Q.OVERSIZED),
    (b'{"event_id": "\xff\xfe"}', Q.NOT_UTF8),
    (b"{not json", Q.INVALID_JSON),
    (b"[1, 2]", Q.INVALID_JSON),
    (_with(event_id=...), Q.MISSING_FIELD),
    (_with(amount="abc"), Q.INVALID_TYPE),
    (_with(amount="12.50"), Q.INVALID_TYPE),
    (_with(amount=None), Q.MISSING_FIELD),
    (_with(event_id=5), Q.INVALID_TYPE),
    (_with(customer_id={"id": "c1"}), Q.INVALID_TYPE),
    (_with(country=["NL"]), Q.INVALID_TYPE),
    (_with(items={"sku": "s"}), Q.INVALID_TYPE),
    (_with(event_type="refund"), Q.INVALID_EVENT_TYPE),
    (_with(customer_id="  "), Q.EMPTY_CUSTOMER_ID),
    (_with(amount=-1.25), Q.INVALID_AMOUNT),
    (_with(amount=1.234), Q.INVALID_AMOUNT),
    (_with(items=[{"sku": "s", "quantity": 0, "unit_price": 1.0}]), Q.INVALID_ITEM),
    (_with(event_time="yesterday"), Q.INVALID_EVENT_TIME),
    (_with(event_time="2999-01-01T00:00:00+00:00"), Q.FUTURE_EVENT_TIME),
    # Past, but more than two days after the broker took the message (2024-01-01).
    (_with(event_time="2024-01-03T00:00:01+00:00"), Q.FUTURE_EVENT_TIME),
    # At the edges of the contract's bounds, each side.
    (_with(amount=1000000000.00), None),
    (_with(amount=1000000000.01), Q.INVALID_AMOUNT),
    (_with(amount=6000000000000000), Q.INVALID_AMOUNT),
    (_with(customer_id="c" * 128), None),
    (_with(customer_id="c" * 10_000), Q.ID_TOO_LONG),
    (_with(order_id="o" * 129), Q.ID_TOO_LONG),
    (_with(items=[{"sku": "s", "quantity": 1_000_000, "unit_price": 0.01}]), None),
    (_with(items=[{"sku": "s", "quantity": 10**15, "unit_price": 1.0}]), Q.INVALID_ITEM),
    (_with(items=[{"sku": "s", "quantity": 1, "unit_price": 1000000000.01}]), Q.INVALID_ITEM),
    (_with(items=[{"sku": "s", "quantity": 1, "unit_price": 1}] * 1000), None),
    (_with(items=[{"sku": "s", "quantity": 1, "unit_price": 1}] * 1001), Q.INVALID_ITEM),
    (_with(event_time="1990-01-01T00:00:00+00:00"), None),
    (_with(event_time="1900-01-01T00:00:00+00:00"), Q.OLD_EVENT_TIME),
]
# Written as text: a Python float would not keep these digits.
EXACT = b'{"event_id":"e9","event_type":"purchase","customer_id":"c9","order_id":"o9",'
EXACT += b'"event_time":"2024-01-02T00:00:00Z","amount":9999999999999999.99}'


def test_each_message_gets_the_reason_of_its_first_broken_rule(spark) -> None:  # type: ignore[no-untyped-def]
    rows = [
        (b"k", value, "t", 0, offset, datetime(2024, 1, 1))
        for offset, (value, _) in enumerate(CASES)
    ]
    parsed = transforms.parse(spark.createDataFrame(rows, RAW_SCHEMA))
    got = {r.kafka_offset: r.reason for r in parsed.select("kafka_offset", "reason").collect()}
    assert got == {offset: reason for offset, (_, reason) in enumerate(CASES)}

    bad = transforms.quarantined(parsed, batch_id=7).collect()
    assert len(bad) == sum(1 for _, reason in CASES if reason)
    assert {bytes(r.raw_value) for r in bad} == {v for v, reason in CASES if reason}
    assert all(r.batch_id == 7 and r.detail for r in bad)

    valid = [offset for offset, (_, reason) in enumerate(CASES) if reason is None]
    events = transforms.events(parsed).collect()
    assert [e.kafka_offset for e in events] == valid
    first = events[0]
    assert (
        first.event_id,
        first.customer_id,
        first.amount,
        first.item_count,
        first.event_time,
    ) == ("e1", "c1", Decimal("10.50"), 2, datetime(2024, 1, 2, 3, 4, 5, 123456))
    assert {e.amount for e in events} == {Decimal("10.50"), Decimal("1000000000.00")}
    assert max(e.item_count for e in events) == 1_000_000
    assert [f.name for f in transforms.events(parsed).schema.fields] == [
        f.name for f in transforms.EVENT_COLUMNS.fields
    ]


def test_an_amount_is_judged_by_its_exact_digits(spark) -> None:  # type: ignore[no-untyped-def]
    rows = [(b"k", EXACT, "t", 0, 0, datetime(2024, 1, 1))]
    parsed = transforms.parse(spark.createDataFrame(rows, RAW_SCHEMA)).collect()
    assert [(r.reason, r.detail) for r in parsed] == [
        (
            Q.INVALID_AMOUNT,
            "amount must be 0 to 1000000000.00 with at most two decimals, got 9999999999999999.99",
        )
    ]


def test_valid_messages_are_deduplicated_by_event_id_and_bad_ones_never(spark) -> None:  # type: ignore[no-untyped-def]
    rows = [
        (b"k", _with(), "t", 0, 0, datetime(2024, 1, 1)),
        (b"k", _with(), "t", 1, 5, datetime(2024, 1, 1)),
        (b"k", b"{bad", "t", 0, 1, datetime(2024, 1, 1)),
        (b"k", b"{bad", "t", 0, 2, datetime(2024, 1, 1)),
    ]
    keyed = transforms.dedupe_key(transforms.parse(spark.createDataFrame(rows, RAW_SCHEMA)))
    kept = keyed.dropDuplicates(["dedupe_key"]).select("dedupe_key").collect()
    assert sorted(r.dedupe_key for r in kept) == ["e:e1", "q:t:0:1", "q:t:0:2"]
