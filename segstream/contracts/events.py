"""The event contract of topic `transactions`: one definition for producers and the stream.

A message's key is the customer id (UTF-8) and its value one JSON object (UTF-8) with the
fields below. Money travels as a JSON number with at most two decimals and is held as
`Decimal` on the Python side and `decimal(18,2)` on the Spark side, never as float; a
customer's sums are `decimal(38,2)`.

Every value has bounds (below): a message outside them is quarantined, so no valid input
can overflow a sum. A customer's money sum reaches 10^36 only after 10^27 events of the
largest amount, and an item count (a long) after 9 * 10^9 events of the most items.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pyspark.sql import types as T

EventType = Literal["purchase", "return"]
EVENT_TYPES: tuple[EventType, ...] = ("purchase", "return")
DEFAULT_CURRENCY = "USD"
MONEY = T.DecimalType(18, 2)
TOTAL_MONEY = T.DecimalType(38, 2)
MAX_AMOUNT = Decimal("1000000000.00")
MAX_QUANTITY = 1_000_000
MAX_ITEMS = 1_000
MAX_ID_LENGTH = 128
ID_FIELDS = ("event_id", "customer_id", "order_id")
# Older event times are corrupt dates (1900, 0001), not purchases: they would inflate tenure
# and open a partition of `events` per date. Histories from the 1990s replay.
MIN_EVENT_TIME = datetime(1990, 1, 1, tzinfo=UTC)
# An event time further ahead of the processing clock than this is a broken clock or a
# corrupt record, never a real purchase.
MAX_FUTURE = timedelta(days=2)
MAX_MESSAGE_BYTES = 64 * 1024

ITEM_SCHEMA = T.StructType(
    [
        T.StructField("sku", T.StringType()),
        T.StructField("category", T.StringType()),
        T.StructField("quantity", T.LongType()),
        T.StructField("unit_price", MONEY),
    ]
)

# Every field is nullable here: the stream parses leniently and validates explicitly, so
# that a missing field becomes a quarantine reason instead of a lost row.
EVENT_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("event_type", T.StringType()),
        T.StructField("customer_id", T.StringType()),
        T.StructField("order_id", T.StringType()),
        T.StructField("event_time", T.StringType()),
        T.StructField("items", T.ArrayType(ITEM_SCHEMA)),
        T.StructField("amount", MONEY),
        T.StructField("currency", T.StringType()),
        T.StructField("channel", T.StringType()),
        T.StructField("country", T.StringType()),
        T.StructField("produced_at", T.StringType()),
    ]
)

REQUIRED_FIELDS = ("event_id", "event_type", "customer_id", "order_id", "event_time", "amount")
OPTIONAL_STRING_FIELDS = ("currency", "channel", "country", "produced_at")


@dataclass(frozen=True)
class Item:
    sku: str
    category: str
    quantity: int
    unit_price: Decimal

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Event:
    """One purchase or return as producers emit it."""

    event_id: str
    event_type: EventType
    customer_id: str
    order_id: str
    event_time: datetime
    amount: Decimal
    items: tuple[Item, ...] = ()
    currency: str = DEFAULT_CURRENCY
    channel: str | None = None
    country: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.event_time.tzinfo is None:
            raise ValueError(f"event {self.event_id}: event_time must carry a UTC offset")

    def to_dict(self, produced_at: datetime | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "customer_id": self.customer_id,
            "order_id": self.order_id,
            "event_time": iso(self.event_time),
            "amount": self.amount,
            "currency": self.currency,
        }
        if self.items:
            out["items"] = [
                {
                    "sku": i.sku,
                    "category": i.category,
                    "quantity": i.quantity,
                    "unit_price": i.unit_price,
                }
                for i in self.items
            ]
        if self.channel is not None:
            out["channel"] = self.channel
        if self.country is not None:
            out["country"] = self.country
        out["produced_at"] = iso(produced_at or datetime.now(UTC))
        out.update(self.extra)
        return out

    def key(self) -> bytes:
        return self.customer_id.encode("utf-8")

    def encode(self, produced_at: datetime | None = None) -> bytes:
        return dumps(self.to_dict(produced_at))


def out_of_bounds(event: Event) -> str | None:
    """What of `event` is outside the contract's bounds (the stream would quarantine it),
    or None."""
    for name in ID_FIELDS:
        if len(getattr(event, name)) > MAX_ID_LENGTH:
            return f"{name} longer than {MAX_ID_LENGTH} characters"
    if event.amount > MAX_AMOUNT:
        return f"amount {event.amount} above {MAX_AMOUNT}"
    if len(event.items) > MAX_ITEMS:
        return f"{len(event.items)} items, at most {MAX_ITEMS}"
    for item in event.items:
        if item.quantity > MAX_QUANTITY:
            return f"item quantity {item.quantity} above {MAX_QUANTITY}"
        if item.unit_price > MAX_AMOUNT:
            return f"item unit_price {item.unit_price} above {MAX_AMOUNT}"
    if event.event_time < MIN_EVENT_TIME:
        return f"event_time {iso(event.event_time)} before {iso(MIN_EVENT_TIME)}"
    return None


def iso(ts: datetime) -> str:
    """ISO-8601 in UTC with microseconds, e.g. `2024-03-01T12:00:00.000001+00:00`."""
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # repr() of a float is its shortest round-trip text, so an amount with two decimals
        # below 10^13 (MAX_AMOUNT is far below) is written with exactly its own digits.
        return float(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, default=_json_default, separators=(",", ":")).encode("utf-8")
