"""The simulated store: a fixed price ladder of SKUs per category.

The catalogue does not depend on the simulation's seed, so every run sells the same
products at the same list prices and runs stay comparable.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal

from producers.personas import CATEGORIES, PERSONAS, Persona
from producers.sampling import WeightedChoice
from segstream.contracts.events import Item

CENTS = Decimal("0.01")
# Each line of a returned order goes back with this probability (at least one line does).
_RETURN_LINE_SHARE = 0.6
_SKUS_PER_CATEGORY = 100
_MEDIAN_PRICE = {
    "grocery": 6.0,
    "apparel": 35.0,
    "electronics": 180.0,
    "home": 45.0,
    "beauty": 18.0,
    "toys": 25.0,
    "books": 14.0,
    "sports": 55.0,
}


class Catalogue:
    """SKUs with list prices, cheapest first within each category."""

    def __init__(self) -> None:
        rng = random.Random("segstream-catalogue")
        self.prices: dict[str, list[Decimal]] = {}
        self.skus: dict[str, list[str]] = {}
        for category in CATEGORIES:
            mu = math.log(_MEDIAN_PRICE[category])
            ladder = sorted(
                max(0.5, rng.lognormvariate(mu, 0.6)) for _ in range(_SKUS_PER_CATEGORY)
            )
            self.prices[category] = [Decimal(f"{p:.2f}") for p in ladder]
            self.skus[category] = [
                f"{category[:3].upper()}-{i:04d}" for i in range(_SKUS_PER_CATEGORY)
            ]
        self._category = {p.name: WeightedChoice(p.categories) for p in PERSONAS.values()}

    def basket(self, rng: random.Random, persona: Persona, price: Decimal) -> tuple[Item, ...]:
        """One order's lines: SKUs from the persona's favourite categories, at list price
        times `price` (the scenario's price level), in cents."""
        items = []
        for _ in range(rng.randint(*persona.lines)):
            category = self._category[persona.name](rng)
            sku, list_price = self.pick(rng, persona, category)
            unit_price = list_price if price == 1 else (list_price * price).quantize(CENTS)
            items.append(Item(sku, category, rng.randint(*persona.quantity), unit_price))
        return tuple(items)

    def pick(self, rng: random.Random, persona: Persona, category: str) -> tuple[str, Decimal]:
        """A SKU of `category` and its list price, placed on the ladder by the persona's
        price tilt."""
        a, b = persona.price_tilt
        i = min(int(rng.betavariate(a, b) * _SKUS_PER_CATEGORY), _SKUS_PER_CATEGORY - 1)
        return self.skus[category][i], self.prices[category][i]


def returned(rng: random.Random, items: tuple[Item, ...]) -> tuple[Item, ...]:
    """The lines of an order that come back, each with part or all of its quantity."""
    lines = [i for i in items if rng.random() < _RETURN_LINE_SHARE] or [rng.choice(items)]
    return tuple(Item(i.sku, i.category, rng.randint(1, i.quantity), i.unit_price) for i in lines)
