"""Bad messages with known outcomes: each kind breaks exactly one rule of the stream.

The stream (`streaming.transforms.parse`) checks its rules in order and reports the first
that fails, so every kind here keeps the rest of the message valid and is labelled with the
reason that first failing rule gives. Each kind's variants (which field, which wrong value)
all fail the same rule.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from segstream.contracts import quarantine as Q
from segstream.contracts.events import (
    MAX_AMOUNT,
    MAX_ID_LENGTH,
    MAX_ITEMS,
    MAX_MESSAGE_BYTES,
    MAX_QUANTITY,
    MIN_EVENT_TIME,
    REQUIRED_FIELDS,
    Event,
    dumps,
    iso,
)

# Not a quarantine reason: the stream drops a re-sent event id silently.
DUPLICATE_REASON: Final = "duplicate"


class BadKind(StrEnum):
    EMPTY_VALUE = "empty_value"
    OVERSIZED = "oversized"
    NOT_UTF8 = "not_utf8"
    INVALID_JSON = "invalid_json"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    NON_NUMERIC_AMOUNT = "non_numeric_amount"
    EMPTY_CUSTOMER_ID = "empty_customer_id"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    NEGATIVE_AMOUNT = "negative_amount"
    TOO_MANY_DECIMALS = "too_many_decimals"
    BAD_QUANTITY = "bad_quantity"
    BAD_EVENT_TIME = "bad_event_time"
    FUTURE_EVENT_TIME = "future_event_time"
    # Valid-looking but beyond the contract's bounds.
    HUGE_AMOUNT = "huge_amount"
    HUGE_QUANTITY = "huge_quantity"
    TOO_MANY_ITEMS = "too_many_items"
    LONG_CUSTOMER_ID = "long_customer_id"
    OLD_EVENT_TIME = "old_event_time"
    DUPLICATE = "duplicate"


EXPECTED_REASON: Final[dict[BadKind, str]] = {
    BadKind.EMPTY_VALUE: Q.EMPTY_MESSAGE,
    BadKind.OVERSIZED: Q.OVERSIZED,
    BadKind.NOT_UTF8: Q.NOT_UTF8,
    BadKind.INVALID_JSON: Q.INVALID_JSON,
    BadKind.MISSING_FIELD: Q.MISSING_FIELD,
    BadKind.WRONG_TYPE: Q.INVALID_TYPE,
    # The amount must be a JSON number; text that is no number is the wrong type too.
    BadKind.NON_NUMERIC_AMOUNT: Q.INVALID_TYPE,
    BadKind.EMPTY_CUSTOMER_ID: Q.EMPTY_CUSTOMER_ID,
    BadKind.UNKNOWN_EVENT_TYPE: Q.INVALID_EVENT_TYPE,
    BadKind.NEGATIVE_AMOUNT: Q.INVALID_AMOUNT,
    BadKind.TOO_MANY_DECIMALS: Q.INVALID_AMOUNT,
    BadKind.BAD_QUANTITY: Q.INVALID_ITEM,
    BadKind.BAD_EVENT_TIME: Q.INVALID_EVENT_TIME,
    BadKind.FUTURE_EVENT_TIME: Q.FUTURE_EVENT_TIME,
    BadKind.HUGE_AMOUNT: Q.INVALID_AMOUNT,
    BadKind.HUGE_QUANTITY: Q.INVALID_ITEM,
    BadKind.TOO_MANY_ITEMS: Q.INVALID_ITEM,
    BadKind.LONG_CUSTOMER_ID: Q.ID_TOO_LONG,
    BadKind.OLD_EVENT_TIME: Q.OLD_EVENT_TIME,
    BadKind.DUPLICATE: DUPLICATE_REASON,
}

# Latin-1 text: a byte >= 0x80 followed by ASCII is never valid UTF-8.
_LATIN1 = (b"caf\xe9", b"Stra\xdfe", b"Cura\xe7ao", b"\xff\xfe")
_UNKNOWN_TYPES = ("refund", "exchange", "PURCHASE", "cancellation", "Return")
_NOT_NUMBERS = ("abc", "N/A", "twelve", "12.50 USD", "$")


@dataclass(frozen=True)
class BadMessage:
    kind: BadKind
    key: bytes
    value: bytes
    reason: str


def make_bad(
    kind: BadKind,
    rng: random.Random,
    event: Event,
    produced_at: datetime,
    sent: bytes | None = None,
) -> BadMessage:
    """One bad message of `kind` made from the valid `event`.

    The same rng state, event and `produced_at` give the same bytes.

    Args:
        kind: what to break.
        rng: source of the variant (which field, which wrong value).
        event: a valid event to break.
        produced_at: the producer timestamp written into the message.
        sent: for `DUPLICATE`, the exact value the event was sent with earlier.

    Raises:
        ValueError: `DUPLICATE` without `sent`.
    """
    key = event.key()
    d = event.to_dict(produced_at)
    if kind is BadKind.DUPLICATE:
        if sent is None:
            raise ValueError("a duplicate needs the bytes the event was sent with")
        value = sent
    elif kind is BadKind.EMPTY_VALUE:
        value = b""
    elif kind is BadKind.NOT_UTF8:
        value = dumps(d)[:-1] + b',"note":"' + rng.choice(_LATIN1) + b'"}'
    elif kind is BadKind.INVALID_JSON:
        value = _invalid_json(rng, d, event)
    elif kind is BadKind.EMPTY_CUSTOMER_ID:
        d["customer_id"] = rng.choice(("", " ", "   "))
        key = d["customer_id"].encode("utf-8")
        value = dumps(d)
    elif kind is BadKind.LONG_CUSTOMER_ID:
        d["customer_id"] = event.customer_id + "x" * rng.randint(MAX_ID_LENGTH, 10_000)
        key = d["customer_id"].encode("utf-8")
        value = dumps(d)
    else:
        _break(kind, rng, d, event)
        value = dumps(d)
    return BadMessage(kind, key, value, EXPECTED_REASON[kind])


def _invalid_json(rng: random.Random, d: dict[str, Any], event: Event) -> bytes:
    text = dumps(d)
    variant = rng.randrange(3)
    if variant == 0:
        # Any proper prefix of an object leaves it unclosed; the text is ASCII, so a cut
        # never splits a UTF-8 sequence (that would be `not_utf8` instead).
        return text[: rng.randint(1, len(text) - 1)]
    if variant == 1:
        return b"[" + text + b"]"
    return f"{event.event_type} {event.customer_id} {event.amount}".encode()


def _break(kind: BadKind, rng: random.Random, d: dict[str, Any], event: Event) -> None:
    """Breaks one field of the event's JSON object in place."""
    if kind is BadKind.OVERSIZED:
        d["note"] = "x" * (MAX_MESSAGE_BYTES + rng.randint(1, 16_384))
    elif kind is BadKind.MISSING_FIELD:
        field = rng.choice(REQUIRED_FIELDS)
        if rng.random() < 0.5:
            del d[field]
        else:
            d[field] = None
    elif kind is BadKind.WRONG_TYPE:
        field, value = rng.choice(
            (
                ("amount", str(event.amount)),
                ("amount", {"value": event.amount, "currency": event.currency}),
                ("amount", True),
                ("customer_id", {"id": event.customer_id}),
                ("event_id", rng.randint(1, 10**9)),
                ("country", [event.country or "US"]),
                ("items", {"sku": "UNKNOWN", "quantity": 1}),
            )
        )
        d[field] = value
    elif kind is BadKind.NON_NUMERIC_AMOUNT:
        d["amount"] = rng.choice(_NOT_NUMBERS)
    elif kind is BadKind.UNKNOWN_EVENT_TYPE:
        d["event_type"] = rng.choice(_UNKNOWN_TYPES)
    elif kind is BadKind.NEGATIVE_AMOUNT:
        # -0.00 is not below zero: negate a positive amount.
        d["amount"] = -(event.amount if event.amount > 0 else Decimal("1.00"))
    elif kind is BadKind.TOO_MANY_DECIMALS:
        d["amount"] = event.amount + Decimal(rng.randint(1, 9)) / 1000
    elif kind is BadKind.BAD_QUANTITY:
        items = d.setdefault("items", [_item(event)])
        items[rng.randrange(len(items))]["quantity"] = rng.randint(-5, 0)
    elif kind is BadKind.BAD_EVENT_TIME:
        t = event.event_time
        # Text, not a number: a number is a wrong type, checked before the time rule.
        d["event_time"] = rng.choice(
            (t.strftime("%d/%m/%Y %H:%M"), t.strftime("%a %b %d %H:%M:%S %Y"), "yesterday")
        )
    elif kind is BadKind.FUTURE_EVENT_TIME:
        # Centuries ahead stays in the future of any processing clock this code meets.
        d["event_time"] = iso(event.event_time + timedelta(days=365 * rng.randint(100, 900)))
    elif kind is BadKind.HUGE_AMOUNT:
        # Two of 6 * 10^15 once overflowed a customer's sum (decimal(18,2)).
        d["amount"] = rng.choice((MAX_AMOUNT + Decimal("0.01"), Decimal("6000000000000000")))
    elif kind is BadKind.HUGE_QUANTITY:
        items = d.setdefault("items", [_item(event)])
        items[rng.randrange(len(items))]["quantity"] = rng.choice((MAX_QUANTITY + 1, 10**15))
    elif kind is BadKind.TOO_MANY_ITEMS:
        # Short items, so that the message stays under the size limit.
        item = {"sku": "S", "category": "c", "quantity": 1, "unit_price": Decimal("0.01")}
        d["items"] = [item] * (MAX_ITEMS + rng.randint(1, 50))
    elif kind is BadKind.OLD_EVENT_TIME:
        d["event_time"] = rng.choice(
            (
                "1900-01-01T00:00:00.000000+00:00",
                iso(MIN_EVENT_TIME - timedelta(microseconds=1)),
            )
        )
    else:
        raise ValueError(f"unhandled bad kind {kind}")


def _item(event: Event) -> dict[str, Any]:
    return {"sku": "UNKNOWN", "category": "unknown", "quantity": 1, "unit_price": event.amount}
