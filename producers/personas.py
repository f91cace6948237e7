"""The hidden behaviour types of simulated customers, and when in the week they shop.

A persona fixes how often a customer orders, how big and how pricey the basket is, which
categories it favours, when in the week it shops, how much it returns and how soon it
leaves. Segmentation should rediscover these groups from the purchases alone; the truth
file names each customer's persona so that can be checked.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import accumulate

DAY_S = 86_400.0
WEEK_S = 7 * DAY_S
MONTH_S = 30.4375 * DAY_S
# 1970-01-05 was a Monday: week positions count from Monday 00:00 UTC.
_MONDAY_S = 4 * DAY_S
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

# Hours of the day (UTC), relative weights.
_DAYTIME = (1, 1, 1, 1, 1, 2, 4, 7, 10, 12, 13, 14, 15, 14, 13, 12, 11, 10, 8, 7, 5, 4, 2, 1)
_EVENING = (3, 2, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 7, 7, 7, 8, 10, 13, 15, 16, 14, 10, 6)
_LUNCH_AND_NIGHT = (8, 6, 3, 1, 1, 1, 2, 3, 5, 6, 8, 13, 15, 11, 7, 6, 6, 7, 8, 10, 12, 14, 13, 11)
_SPREAD = (3, 2, 2, 1, 1, 2, 3, 5, 7, 8, 9, 10, 10, 10, 9, 9, 9, 9, 10, 10, 9, 8, 6, 4)
# Days of the week, Monday first.
_WORKWEEK = (1.15, 1.1, 1.1, 1.1, 1.0, 0.8, 0.75)
_WEEKEND = (0.8, 0.75, 0.8, 0.9, 1.1, 1.6, 1.5)
_EVEN = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)

CATEGORIES = ("grocery", "apparel", "electronics", "home", "beauty", "toys", "books", "sports")


class WeeklyPattern:
    """How a persona's activity spreads over the 168 hours of a week (mean rate 1).

    Sampling next-order times through this pattern places orders at the right hours
    without rejecting candidates, which keeps the simulator fast.
    """

    def __init__(self, hours: Sequence[float], weekdays: Sequence[float]) -> None:
        if len(hours) != 24 or len(weekdays) != 7 or min(*hours, *weekdays) <= 0:
            raise ValueError("need 24 hourly and 7 daily weights, all > 0")
        raw = [d * h for d in weekdays for h in hours]
        mean = sum(raw) / len(raw)
        self._rates = [w / mean for w in raw]
        self._cum = list(accumulate((r * 3600.0 for r in self._rates), initial=0.0))

    def advance(self, t: float, work: float) -> float:
        """The time after `t` (epoch seconds) by which `work` seconds of activity at the
        pattern's mean rate have passed, i.e. the end of an exponential gap in shaped time."""
        week0 = t - (t - _MONDAY_S) % WEEK_S
        pos = t - week0
        hour = min(int(pos // 3600.0), 167)
        target = self._cum[hour] + self._rates[hour] * (pos - hour * 3600.0) + work
        weeks, rest = divmod(target, self._cum[-1])
        hour = min(bisect_right(self._cum, rest) - 1, 167)
        return week0 + weeks * WEEK_S + hour * 3600.0 + (rest - self._cum[hour]) / self._rates[hour]


@dataclass(frozen=True)
class Persona:
    """One behaviour type; rates are for an average week in an average season."""

    name: str
    description: str
    orders_per_month: float
    lines: tuple[int, int]
    quantity: tuple[int, int]
    # Beta(a, b) position on a category's price ladder: a > b leans to the pricey end.
    price_tilt: tuple[float, float]
    categories: Mapping[str, float]
    pattern: WeeklyPattern
    return_share: float
    churn_per_month: float
    # The purchase rate halves every `half_life_days` after joining; None = steady.
    half_life_days: float | None
    channels: Mapping[str, float]
    birth_years: tuple[int, int]
    income: Mapping[str, float]
    # How long before the simulation's start an initial customer of this persona signed up.
    tenure_days: tuple[int, int]


def _cats(**weights: float) -> dict[str, float]:
    return {c: weights.get(c, 0.2) for c in CATEGORIES}


PERSONAS: dict[str, Persona] = {
    p.name: p
    for p in (
        Persona(
            name="champion",
            description="orders often, big baskets of pricier goods, rarely returns",
            orders_per_month=5.0,
            lines=(2, 6),
            quantity=(1, 3),
            price_tilt=(3.0, 1.5),
            categories=_cats(electronics=2.0, apparel=2.0, home=1.5, beauty=1.2, sports=1.0),
            pattern=WeeklyPattern(_EVENING, _EVEN),
            return_share=0.05,
            churn_per_month=0.01,
            half_life_days=None,
            channels={"app": 0.6, "web": 0.3, "store": 0.1},
            birth_years=(1965, 1995),
            income={"middle": 0.2, "upper-middle": 0.4, "high": 0.4},
            tenure_days=(365, 2500),
        ),
        Persona(
            name="loyal",
            description="steady regular: a couple of mid-sized orders a month",
            orders_per_month=2.0,
            lines=(1, 4),
            quantity=(1, 2),
            price_tilt=(2.0, 2.0),
            categories=_cats(grocery=3.0, home=1.5, books=1.5, beauty=1.0),
            pattern=WeeklyPattern(_DAYTIME, _WORKWEEK),
            return_share=0.04,
            churn_per_month=0.02,
            half_life_days=None,
            channels={"web": 0.5, "store": 0.3, "app": 0.2},
            birth_years=(1950, 1990),
            income={"lower-middle": 0.25, "middle": 0.45, "upper-middle": 0.3},
            tenure_days=(180, 2500),
        ),
        Persona(
            name="big_spender",
            description="occasional large orders of expensive goods, mostly at weekends",
            orders_per_month=0.35,
            lines=(3, 6),
            quantity=(1, 2),
            price_tilt=(5.0, 1.2),
            categories=_cats(electronics=3.0, home=2.0, sports=1.5),
            pattern=WeeklyPattern(_DAYTIME, _WEEKEND),
            return_share=0.10,
            churn_per_month=0.03,
            half_life_days=None,
            channels={"web": 0.5, "store": 0.4, "app": 0.1},
            birth_years=(1955, 1990),
            income={"upper-middle": 0.4, "high": 0.6},
            tenure_days=(90, 2000),
        ),
        Persona(
            name="bargain_hunter",
            description="many small orders of cheap goods, returns the most",
            orders_per_month=4.0,
            lines=(1, 2),
            quantity=(1, 4),
            price_tilt=(1.0, 5.0),
            categories=_cats(apparel=2.5, beauty=2.0, toys=2.0, grocery=1.0),
            pattern=WeeklyPattern(_LUNCH_AND_NIGHT, _WORKWEEK),
            return_share=0.25,
            churn_per_month=0.04,
            half_life_days=None,
            channels={"app": 0.7, "web": 0.3},
            birth_years=(1975, 2006),
            income={"low": 0.35, "lower-middle": 0.4, "middle": 0.25},
            tenure_days=(30, 1500),
        ),
        Persona(
            name="new",
            description="recently signed up, a few tentative orders, often gone soon",
            orders_per_month=1.2,
            lines=(1, 3),
            quantity=(1, 2),
            price_tilt=(2.0, 2.5),
            categories=_cats(apparel=1.5, beauty=1.2, books=1.0),
            pattern=WeeklyPattern(_SPREAD, _EVEN),
            return_share=0.06,
            churn_per_month=0.10,
            half_life_days=None,
            channels={"app": 0.4, "web": 0.5, "store": 0.1},
            birth_years=(1960, 2006),
            income={"low": 0.2, "lower-middle": 0.3, "middle": 0.3, "upper-middle": 0.2},
            tenure_days=(0, 30),
        ),
        Persona(
            name="drifting",
            description="was a regular, orders ever less often (rate halves every 75 days)",
            orders_per_month=2.0,
            lines=(1, 3),
            quantity=(1, 2),
            price_tilt=(2.0, 2.0),
            categories=_cats(grocery=2.0, home=1.5, apparel=1.0),
            pattern=WeeklyPattern(_DAYTIME, _WORKWEEK),
            return_share=0.08,
            churn_per_month=0.03,
            half_life_days=75.0,
            channels={"web": 0.6, "store": 0.3, "app": 0.1},
            birth_years=(1950, 1995),
            income={"lower-middle": 0.3, "middle": 0.4, "upper-middle": 0.3},
            tenure_days=(365, 2500),
        ),
        Persona(
            name="lapsed",
            description="buys for a few weeks, then stops for good",
            orders_per_month=1.0,
            lines=(1, 3),
            quantity=(1, 2),
            price_tilt=(2.0, 2.0),
            categories=_cats(),
            pattern=WeeklyPattern(_SPREAD, _EVEN),
            return_share=0.05,
            churn_per_month=0.8,
            half_life_days=None,
            channels={"web": 0.5, "store": 0.4, "app": 0.1},
            birth_years=(1950, 2000),
            income={"low": 0.2, "lower-middle": 0.3, "middle": 0.3, "upper-middle": 0.2},
            tenure_days=(180, 2500),
        ),
    )
}

# Upper bound of `season`: the simulator draws candidates at this peak and thins them.
SEASON_MAX = 1.35


@lru_cache(maxsize=8192)
def season(day: int) -> float:
    """Mild seasonality of all purchasing on day `day` since the epoch: a spring/summer
    swell of +-8% and a +25% run-up to Christmas (20 Nov - 23 Dec)."""
    d = date.fromordinal(_EPOCH_ORDINAL + day)
    factor = 1.0 + 0.08 * math.sin(2 * math.pi * (d.timetuple().tm_yday - 80) / 365.25)
    if (d.month == 11 and d.day >= 20) or (d.month == 12 and d.day <= 23):
        factor += 0.25
    return factor
