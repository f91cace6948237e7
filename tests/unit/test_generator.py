from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from producers.generator import GeneratorOptions, generate
from producers.pacing import MIN_SLEEP_S, Pacer

pytestmark = pytest.mark.unit

OPTIONS = GeneratorOptions(customers=20, seed=7, start=datetime(2024, 1, 1, tzinfo=UTC))


def test_same_seed_same_events_other_seed_other_events() -> None:
    first = list(itertools.islice(generate(OPTIONS), 500))
    again = list(itertools.islice(generate(OPTIONS), 500))
    other = list(
        itertools.islice(generate(GeneratorOptions(customers=20, seed=8, start=OPTIONS.start)), 500)
    )
    assert first == again
    assert first != other


def test_orders_add_up_and_returns_name_an_earlier_order() -> None:
    events = list(itertools.islice(generate(OPTIONS), 2000))
    paid = {}
    for e in events:
        if e.event_type == "purchase":
            assert e.amount == sum(i.unit_price * i.quantity for i in e.items)
            assert e.amount.as_tuple().exponent == -2
            paid[e.order_id] = (e.customer_id, e.amount)
        else:
            customer, amount = paid.pop(e.order_id)
            assert e.customer_id == customer
            assert Decimal("0") < e.amount <= amount
    assert len({e.event_id for e in events}) == len(events)
    assert any(e.event_type == "return" for e in events)
    assert any(a.event_time == b.event_time for a, b in itertools.pairwise(events))


def test_pacer_spaces_events_evenly() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    pacer = Pacer(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        pacer.wait()
    assert now[0] == pytest.approx(1.0)
    assert pacer.count == 5


def test_pacer_sleeps_once_per_burst_at_a_high_rate() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    rate = 1000.0
    pacer = Pacer(rate, clock=lambda: now[0], sleep=sleep)
    for n in range(100):
        pacer.wait()
        due = n / rate
        assert due - MIN_SLEEP_S <= now[0] <= due + 1e-9
    # One sleep per MIN_SLEEP_S of schedule, not one per event.
    assert 0 < len(slept) <= 100 / (MIN_SLEEP_S * rate)
