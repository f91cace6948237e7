"""Each bad kind breaks exactly the rule its label names, and nothing checked before it.

The rules and their order are those of `streaming.transforms.parse`: empty, oversized, not
UTF-8, not a JSON object, required fields missing (absent or null), any field of the wrong
JSON type, event type, empty customer id, empty event/order id, amount (>= 0, two
decimals), items, event time (ISO-8601), event time in the future.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest

from producers.bad_events import EXPECTED_REASON, BadKind, make_bad
from producers.simulator import Simulator, SimulatorOptions
from segstream.contracts import quarantine as Q
from segstream.contracts.events import (
    EVENT_TYPES,
    MAX_AMOUNT,
    MAX_FUTURE,
    MAX_ID_LENGTH,
    MAX_ITEMS,
    MAX_MESSAGE_BYTES,
    MAX_QUANTITY,
    MIN_EVENT_TIME,
    REQUIRED_FIELDS,
    Event,
    Item,
)

pytestmark = pytest.mark.unit

STAMP = datetime(2026, 1, 1, tzinfo=UTC)
PURCHASE = Event(
    event_id="e1",
    event_type="purchase",
    customer_id="c1",
    order_id="o1",
    event_time=datetime(2021, 3, 1, 12, 30, tzinfo=UTC),
    amount=Decimal("35.64"),
    items=(
        Item("HOM-0001", "home", 6, Decimal("2.55")),
        Item("HOM-0002", "home", 6, Decimal("3.39")),
    ),
    channel="web",
    country="GB",
)
RETURN = Event(
    event_id="e2",
    event_type="return",
    customer_id="c1",
    order_id="o1",
    event_time=datetime(2021, 3, 9, tzinfo=UTC),
    amount=Decimal("2.55"),
)
_MONEY_TEXT = re.compile(r"^-?[0-9]+(\.[0-9]{1,2})?$")
_STRINGS = ("event_id", "event_type", "customer_id", "order_id", "event_time")
_OPTIONAL_STRINGS = ("currency", "channel", "country", "produced_at")


def _json(value: bytes) -> dict[str, Any]:
    decoded = json.loads(value, parse_float=Decimal)
    assert isinstance(decoded, dict)
    return decoded


def _wrong_types(d: dict[str, Any]) -> list[str]:
    """The fields whose JSON type is not the contract's."""
    wrong = [f for f in _STRINGS if not isinstance(d[f], str)]
    if isinstance(d["amount"], bool) or not isinstance(d["amount"], int | Decimal):
        wrong.append("amount")
    wrong += [f for f in _OPTIONAL_STRINGS if d.get(f) is not None and not isinstance(d[f], str)]
    if d.get("items") is not None and not isinstance(d["items"], list):
        wrong.append("items")
    return wrong


def _valid_before_amount(d: dict[str, Any]) -> None:
    """Everything the stream checks before the amount rule holds."""
    for name in REQUIRED_FIELDS:
        assert d.get(name) is not None
    assert _wrong_types(d) == []
    assert d["event_type"] in EVENT_TYPES
    assert d["customer_id"].strip() and d["event_id"].strip() and d["order_id"].strip()


def _check(kind: BadKind, value: bytes, source: Event, sent: bytes) -> None:
    """Asserts that `value` fails the rule `kind` stands for, and no rule before it."""
    if kind is BadKind.EMPTY_VALUE:
        assert value == b""
        return
    if kind is BadKind.DUPLICATE:
        assert value == sent
        return
    if kind is BadKind.OVERSIZED:
        assert len(value) > MAX_MESSAGE_BYTES
        assert _json(value)["event_id"] == source.event_id
        return
    assert 0 < len(value) <= MAX_MESSAGE_BYTES
    if kind is BadKind.NOT_UTF8:
        with pytest.raises(UnicodeDecodeError):
            value.decode("utf-8")
        return
    text = value.decode("utf-8")
    if kind is BadKind.INVALID_JSON:
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError:
            return
        assert not isinstance(decoded, dict)
        return
    d = _json(value)
    if kind is BadKind.MISSING_FIELD:
        missing = [f for f in REQUIRED_FIELDS if d.get(f) is None]
        assert len(missing) == 1
        return
    assert all(d.get(f) is not None for f in REQUIRED_FIELDS)
    if kind is BadKind.WRONG_TYPE:
        assert len(_wrong_types(d)) == 1
        return
    if kind is BadKind.NON_NUMERIC_AMOUNT:
        assert _wrong_types(d) == ["amount"]
        with pytest.raises(InvalidOperation):
            Decimal(d["amount"])
        return
    assert _wrong_types(d) == []
    if kind is BadKind.UNKNOWN_EVENT_TYPE:
        assert d["event_type"] not in EVENT_TYPES
        return
    if kind is BadKind.EMPTY_CUSTOMER_ID:
        assert d["event_type"] in EVENT_TYPES
        assert d["customer_id"].strip() == ""
        return
    if kind is BadKind.LONG_CUSTOMER_ID:
        assert len(d["customer_id"]) > MAX_ID_LENGTH
        return
    assert all(len(d[f]) <= MAX_ID_LENGTH for f in ("event_id", "customer_id", "order_id"))
    _valid_before_amount(d)
    amount_text = re.search(rb'"amount":([^,}]*)', value)
    assert amount_text is not None
    money_ok = d["amount"] >= 0 and _MONEY_TEXT.match(amount_text.group(1).decode())
    if kind in (BadKind.NEGATIVE_AMOUNT, BadKind.TOO_MANY_DECIMALS):
        assert not money_ok
        if kind is BadKind.NEGATIVE_AMOUNT:
            assert d["amount"] < 0
        return
    assert money_ok
    if kind is BadKind.HUGE_AMOUNT:
        assert d["amount"] > MAX_AMOUNT
        return
    assert d["amount"] <= MAX_AMOUNT
    quantities = [i["quantity"] for i in d.get("items", [])]
    if kind is BadKind.BAD_QUANTITY:
        assert any(q <= 0 for q in quantities)
        return
    assert all(q > 0 for q in quantities)
    if kind is BadKind.HUGE_QUANTITY:
        assert any(q > MAX_QUANTITY for q in quantities)
        return
    assert all(q <= MAX_QUANTITY for q in quantities)
    if kind is BadKind.TOO_MANY_ITEMS:
        assert len(quantities) > MAX_ITEMS
        return
    assert len(quantities) <= MAX_ITEMS
    if kind is BadKind.BAD_EVENT_TIME:
        with pytest.raises(ValueError):
            datetime.fromisoformat(d["event_time"])
        return
    if kind is BadKind.OLD_EVENT_TIME:
        assert datetime.fromisoformat(d["event_time"]) < MIN_EVENT_TIME
        return
    assert datetime.fromisoformat(d["event_time"]) >= MIN_EVENT_TIME
    assert kind is BadKind.FUTURE_EVENT_TIME
    assert datetime.fromisoformat(d["event_time"]) > datetime.now(UTC) + MAX_FUTURE


@pytest.mark.parametrize("kind", list(BadKind))
@pytest.mark.parametrize("source", [PURCHASE, RETURN], ids=["purchase", "return"])
def test_each_kind_breaks_exactly_its_rule(kind: BadKind, source: Event) -> None:
    sent = source.encode(STAMP)
    rng = random.Random(11)
    for _ in range(40):
        bad = make_bad(kind, rng, source, STAMP, sent=sent)
        assert bad.kind is kind
        assert bad.reason == EXPECTED_REASON[kind]
        if kind is BadKind.EMPTY_CUSTOMER_ID:
            assert bad.key == b" " * len(bad.key)
        elif kind is BadKind.LONG_CUSTOMER_ID:
            assert bad.key == _json(bad.value)["customer_id"].encode()
        else:
            assert bad.key == b"c1"
        _check(kind, bad.value, source, sent)


def test_labels_are_the_streams_reason_codes() -> None:
    assert EXPECTED_REASON == {
        BadKind.EMPTY_VALUE: Q.EMPTY_MESSAGE,
        BadKind.OVERSIZED: Q.OVERSIZED,
        BadKind.NOT_UTF8: Q.NOT_UTF8,
        BadKind.INVALID_JSON: Q.INVALID_JSON,
        BadKind.MISSING_FIELD: Q.MISSING_FIELD,
        BadKind.WRONG_TYPE: Q.INVALID_TYPE,
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
        BadKind.DUPLICATE: "duplicate",
    }
    # Every reason a producer can cause is exercised (a null value cannot be sent).
    assert set(Q.REASONS) <= set(EXPECTED_REASON.values())


def test_same_rng_state_same_bad_message() -> None:
    for kind in BadKind:
        a = make_bad(kind, random.Random(5), PURCHASE, STAMP, sent=b"x")
        b = make_bad(kind, random.Random(5), PURCHASE, STAMP, sent=b"x")
        assert a == b


def test_a_duplicate_needs_the_bytes_sent() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        make_bad(BadKind.DUPLICATE, random.Random(0), PURCHASE, STAMP)


def test_the_simulator_sends_every_kind_labelled_and_duplicates_resend_old_bytes() -> None:
    options = SimulatorOptions(
        customers=300, seed=4, start=datetime(2021, 1, 1, tzinfo=UTC), bad_rate=0.1
    )
    sim = Simulator(options, produced_at=lambda: STAMP)
    messages = list(itertools.islice(sim, 6000))
    position = {m.value: i for i, m in reversed(list(enumerate(messages))) if m.kind == "event"}
    kinds: Counter[str] = Counter()
    for i, m in enumerate(messages):
        if m.reason is None:
            continue
        kinds[m.kind] += 1
        kind = BadKind(m.kind)
        assert m.reason == EXPECTED_REASON[kind]
        assert m.event is not None
        if kind is BadKind.DUPLICATE:
            # The very bytes of an event sent before; once there is history, long before.
            assert position[m.value] < i
            if i > 2000:
                assert i - position[m.value] > 500
                assert m.time - m.event.event_time > timedelta(days=1)
        else:
            _check(kind, m.value, m.event, b"")
    assert set(kinds) == {k.value for k in BadKind}
