from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from segstream.contracts.events import Event, Item

pytestmark = pytest.mark.unit


def _event(**kw: object) -> Event:
    base: dict[str, object] = {
        "event_id": "e1",
        "event_type": "purchase",
        "customer_id": "c1",
        "order_id": "o1",
        "event_time": datetime(2024, 3, 1, 12, 0, 0, 1, tzinfo=timezone(timedelta(hours=2))),
        "amount": Decimal("1234567.89"),
    }
    base.update(kw)
    return Event(**base)  # type: ignore[arg-type]


def test_money_and_time_survive_encoding_exactly() -> None:
    event = _event(items=(Item("s1", "books", 3, Decimal("0.10")),))
    decoded = json.loads(event.encode(datetime(2024, 3, 1, tzinfo=UTC)), parse_float=Decimal)
    assert decoded["amount"] == Decimal("1234567.89")
    assert decoded["items"][0]["unit_price"] == Decimal("0.1")
    assert decoded["event_time"] == "2024-03-01T10:00:00.000001+00:00"
    assert decoded["currency"] == "USD"
    assert event.key() == b"c1"


def test_naive_event_time_is_refused() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        _event(event_time=datetime(2024, 1, 1))
