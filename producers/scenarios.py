"""Drift scenarios: named schedules that change the population's behaviour at set times.

A scenario is a list of shifts, each starting a new regime (sign-up volume and persona mix,
price level, per-persona purchase rate, return share and churn) at an offset from the
scenario's start. Before its first shift every scenario behaves exactly like `none`, and the
same seed gives the same events up to that moment, so a scenario's effect can be compared
against an undisturbed run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from producers.personas import PERSONAS

# The simulator draws candidate orders and sign-ups at these peak multipliers and thins
# them, so no regime may exceed them.
RATE_CAP = 2.0
ARRIVALS_CAP = 8.0
# New sign-ups per month, as a share of the initial population.
ARRIVALS_PER_MONTH = 0.05

BASE_ARRIVAL_MIX: Mapping[str, float] = {
    "new": 0.55,
    "loyal": 0.10,
    "bargain_hunter": 0.12,
    "drifting": 0.10,
    "big_spender": 0.05,
    "lapsed": 0.05,
    "champion": 0.03,
}


@dataclass(frozen=True)
class Effect:
    """Multipliers of one persona's behaviour."""

    rate: float = 1.0
    returns: float = 1.0
    churn: float = 1.0


NEUTRAL = Effect()


@dataclass(frozen=True)
class Regime:
    """How the world behaves from one shift until the next."""

    description: str
    arrivals: float = 1.0
    arrival_mix: Mapping[str, float] = field(default_factory=lambda: dict(BASE_ARRIVAL_MIX))
    price: float = 1.0
    effects: Mapping[str, Effect] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = (set(self.arrival_mix) | set(self.effects)) - set(PERSONAS)
        if unknown:
            raise ValueError(f"unknown personas {sorted(unknown)}")
        if not 0 <= self.arrivals <= ARRIVALS_CAP:
            raise ValueError(f"arrivals multiplier must be within [0, {ARRIVALS_CAP}]")
        if any(not 0 <= e.rate <= RATE_CAP for e in self.effects.values()):
            raise ValueError(f"rate multipliers must be within [0, {RATE_CAP}]")
        if self.price <= 0:
            raise ValueError("price multiplier must be > 0")

    def effect(self, persona: str) -> Effect:
        return self.effects.get(persona, NEUTRAL)


BASELINE = Regime("steady behaviour")


@dataclass(frozen=True)
class Shift:
    """A named change to `regime`, `after` the scenario's start."""

    name: str
    after: timedelta
    regime: Regime


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    starts_after: timedelta
    shifts: tuple[Shift, ...] = ()

    def timeline(
        self, start: datetime, starts_after: timedelta | None = None
    ) -> list[tuple[datetime, Shift]]:
        """The shifts at their simulated times for a simulation starting at `start`;
        `starts_after` overrides the scenario's own offset."""
        begin = start + (self.starts_after if starts_after is None else starts_after)
        return [(begin + s.after, s) for s in self.shifts]


_ESTABLISHED = ("champion", "loyal", "big_spender", "drifting")

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("none", "no drift: the same behaviour throughout", timedelta(0)),
        Scenario(
            "promotion",
            "60-day 20%-off promotion: 4x sign-ups, mostly bargain hunters, who stay",
            timedelta(days=120),
            (
                Shift(
                    "promotion-starts",
                    timedelta(0),
                    Regime(
                        "prices -20%, sign-ups x4 (70% bargain hunters), bargain hunters "
                        "order 1.6x as often and return more",
                        arrivals=4.0,
                        arrival_mix={
                            "bargain_hunter": 0.7,
                            "new": 0.2,
                            "loyal": 0.05,
                            "champion": 0.05,
                        },
                        price=0.8,
                        effects={
                            "bargain_hunter": Effect(rate=1.6, returns=1.2),
                            "loyal": Effect(rate=1.15),
                        },
                    ),
                ),
                Shift(
                    "promotion-ends",
                    timedelta(days=60),
                    Regime("prices and sign-ups back to normal; the bargain hunters won stay"),
                ),
            ),
        ),
        Scenario(
            "churn-wave",
            "45-day wave of churn among established customers (a competitor opens)",
            timedelta(days=120),
            (
                Shift(
                    "churn-wave-starts",
                    timedelta(0),
                    Regime(
                        "established customers churn 8x as fast and order 25% less; "
                        "new customers churn 3x as fast",
                        effects={
                            **{p: Effect(rate=0.75, churn=8.0) for p in _ESTABLISHED},
                            "new": Effect(churn=3.0),
                        },
                    ),
                ),
                Shift(
                    "churn-wave-ends",
                    timedelta(days=45),
                    Regime("churn back to normal; those who left stay away"),
                ),
            ),
        ),
        Scenario(
            "price-increase",
            "permanent 15% price rise: bargain hunters buy less and leave",
            timedelta(days=120),
            (
                Shift(
                    "prices-rise",
                    timedelta(0),
                    Regime(
                        "prices +15%; bargain hunters order 0.6x as often and churn 3x; "
                        "regulars and big spenders order a little less; sign-ups -30%",
                        arrivals=0.7,
                        price=1.15,
                        effects={
                            "bargain_hunter": Effect(rate=0.6, churn=3.0),
                            "loyal": Effect(rate=0.9, churn=1.5),
                            "big_spender": Effect(rate=0.85),
                            "new": Effect(churn=2.0),
                        },
                    ),
                ),
            ),
        ),
        Scenario(
            "new-customer-campaign",
            "30-day acquisition campaign: 6x sign-ups of new customers",
            timedelta(days=120),
            (
                Shift(
                    "campaign-starts",
                    timedelta(0),
                    Regime(
                        "sign-ups x6, 85% of them new customers",
                        arrivals=6.0,
                        arrival_mix={"new": 0.85, "bargain_hunter": 0.10, "loyal": 0.05},
                    ),
                ),
                Shift(
                    "campaign-ends",
                    timedelta(days=30),
                    Regime("sign-ups back to normal"),
                ),
            ),
        ),
    )
}

# The demo's scenario: the promotion starts 120 simulated days in (two minutes into a demo
# at the default speed), and the bargain-hunter segment visibly grows.
DEFAULT_SCENARIO = "promotion"
