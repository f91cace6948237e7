"""A deterministic stream of contract-valid purchases and returns.

Same seed, same events: the clock and the random source are arguments, so tests and
benchmarks can replay exactly what they sent.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from segstream.contracts.events import Event, Item

CATEGORIES = ("grocery", "apparel", "electronics", "home", "beauty", "toys", "books", "sports")
CENTS = Decimal("0.01")


@dataclass(frozen=True)
class GeneratorOptions:
    customers: int = 100
    seed: int = 0
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    mean_gap_s: float = 600.0
    return_share: float = 0.05
    same_time_share: float = 0.05
    id_prefix: str = "sim"


def generate(options: GeneratorOptions) -> Iterator[Event]:
    """Yields purchases (and returns of earlier orders) forever, in event-time order except
    for the occasional return or repeated timestamp."""
    if options.start.tzinfo is None:
        raise ValueError("start must carry a timezone")
    rng = random.Random(options.seed)
    now = options.start
    orders: list[tuple[str, str, Decimal]] = []
    n = 0
    while True:
        n += 1
        if rng.random() >= options.same_time_share:
            now += timedelta(microseconds=rng.randint(1, int(options.mean_gap_s * 2e6)))
        if orders and rng.random() < options.return_share:
            customer, order, paid = orders.pop(rng.randrange(len(orders)))
            amount = (paid * Decimal(rng.randint(10, 100)) / 100).quantize(CENTS)
            yield Event(
                event_id=f"{options.id_prefix}-{options.seed}-{n}",
                event_type="return",
                customer_id=customer,
                order_id=order,
                event_time=now,
                amount=amount,
            )
            continue
        customer = f"c{rng.randrange(options.customers):06d}"
        order = f"{options.id_prefix}-o{options.seed}-{n}"
        items = tuple(
            Item(
                sku=f"sku-{rng.randrange(500):04d}",
                category=rng.choice(CATEGORIES),
                quantity=rng.randint(1, 4),
                unit_price=Decimal(rng.randint(50, 20000)) / 100,
            )
            for _ in range(rng.randint(1, 4))
        )
        amount = sum((i.total for i in items), Decimal("0")).quantize(CENTS)
        orders.append((customer, order, amount))
        yield Event(
            event_id=f"{options.id_prefix}-{options.seed}-{n}",
            event_type="purchase",
            customer_id=customer,
            order_id=order,
            event_time=now,
            amount=amount,
            items=items,
            channel=rng.choice(("web", "app", "store")),
        )
