"""The customer simulator: a deterministic stream of profiles, purchases, returns and bad
messages, in simulated-time order and without any I/O.

Every customer is a point process: candidate order times come from the persona's weekly
pattern at a peak rate and are thinned by seasonality, the scenario's current regime and the
persona's decay. The population grows by sign-ups and shrinks by churn. Everything draws
from one seeded random source (bad messages from a second one), so the same options give
the same messages, except for the `produced_at` stamp, which is the real time of yielding.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from producers.bad_events import BadKind, make_bad
from producers.catalogue import CENTS, Catalogue, returned
from producers.clock import DEFAULT_START
from producers.messages import CUSTOMERS, EVENT, PROFILE, TRANSACTIONS, Message, Topic
from producers.personas import DAY_S, MONTH_S, PERSONAS, SEASON_MAX, Persona, season
from producers.population import INITIAL_MIX, Customer, initial_customer, make_customer
from producers.sampling import WeightedChoice
from producers.scenarios import (
    ARRIVALS_CAP,
    ARRIVALS_PER_MONTH,
    BASELINE,
    DEFAULT_SCENARIO,
    RATE_CAP,
    SCENARIOS,
    Regime,
    Shift,
)
from segstream.contracts.customers import CustomerProfile
from segstream.contracts.events import Event, Item

# A drifting customer ordering at under 3% of their original rate has drifted away.
_GONE_BELOW = 0.03
# Returns come back within a month of the order, as most shops' return windows allow.
_RETURN_AFTER_DAYS = (1.0, 30.0)
# Duplicates re-send one of this many recent events, from the older half, so a duplicate
# arrives long after its original.
_DUPLICATE_WINDOW = 10_000


@dataclass(frozen=True)
class SimulatorOptions:
    """What to simulate.

    Attributes:
        customers: customers at the start; sign-ups add about 5% of this per month.
        seed: same seed, same messages.
        start: simulated time at the start (timezone-aware).
        scenario: name of a scenario in `producers.scenarios.SCENARIOS`.
        scenario_start: when the scenario begins after `start`; None = its own default.
        bad_rate: the fraction of `transactions` messages that are bad, in [0, 1).
        id_prefix: prefix of customer, order and event ids.
    """

    customers: int = 2000
    seed: int = 0
    start: datetime = DEFAULT_START
    scenario: str = DEFAULT_SCENARIO
    scenario_start: timedelta | None = None
    bad_rate: float = 0.0
    id_prefix: str = "sim"

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("start must carry a timezone")
        if self.customers < 1:
            raise ValueError("customers must be >= 1")
        if not 0.0 <= self.bad_rate < 1.0:
            raise ValueError(f"bad_rate must be in [0, 1), got {self.bad_rate}")
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}; known: {', '.join(SCENARIOS)}")


@dataclass(frozen=True, slots=True)
class _Return:
    """Heap payload: part of an order coming back."""

    customer: Customer
    order_id: str
    items: tuple[Item, ...]
    channel: str | None


class _Arrival:
    """Heap payload: the next candidate sign-up."""


@dataclass(frozen=True, slots=True)
class _Draft:
    """A message decided on but not yet stamped and encoded."""

    time: datetime
    topic: Topic
    kind: str
    event: Event | None = None
    profile: CustomerProfile | None = None
    original: Message | None = None


class _Behaviour:
    """A persona's channel sampler and candidate order rate (per simulated second)."""

    def __init__(self, persona: Persona) -> None:
        self.channel = WeightedChoice(persona.channels)
        self.candidate_rate = persona.orders_per_month / MONTH_S * RATE_CAP * SEASON_MAX


_Payload = Customer | _Return | _Arrival | Shift


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Simulator(Iterator[Message]):
    """An endless iterator of messages in simulated-time order.

    Args:
        options: what to simulate.
        produced_at: the real clock stamped into each message as `produced_at`.
    """

    def __init__(
        self, options: SimulatorOptions, produced_at: Callable[[], datetime] = _utc_now
    ) -> None:
        self.options = options
        self._produced_at = produced_at
        self._rng = random.Random(options.seed)
        # Bad messages draw from their own source, so the valid stream does not depend
        # on the bad rate.
        self._bad_rng = random.Random(f"bad-{options.seed}")
        self._bad_kinds = tuple(BadKind)
        self._bad_kinds_first = tuple(k for k in BadKind if k is not BadKind.DUPLICATE)
        self._catalogue = Catalogue()
        self._behaviour = {name: _Behaviour(p) for name, p in PERSONAS.items()}
        self._heap: list[tuple[float, int, _Payload]] = []
        self._seq = 0
        self._ready: deque[_Draft] = deque()
        self._sent: deque[Message] = deque(maxlen=_DUPLICATE_WINDOW)
        self._events = 0
        self._orders = 0
        self._set_regime(BASELINE)
        self.customers: list[Customer] = []
        """Every customer so far, in order of creation."""
        self.timeline = SCENARIOS[options.scenario].timeline(options.start, options.scenario_start)
        """The scenario's shifts at their simulated times."""

        t0 = options.start.timestamp()
        for when, shift in self.timeline:
            self._push(when.timestamp(), shift)
        mix = WeightedChoice(INITIAL_MIX)
        today = options.start.date()
        for _ in range(options.customers):
            customer = initial_customer(self._rng, self._next_customer_id(), mix, t0, today)
            self._add(customer, t0)
        self._arrival_rate = ARRIVALS_PER_MONTH * options.customers / MONTH_S * ARRIVALS_CAP
        self._push(t0 + self._rng.expovariate(self._arrival_rate), _Arrival())

    def __next__(self) -> Message:
        while not self._ready:
            self._step()
        draft = self._ready.popleft()
        if draft.profile is not None:
            return Message(
                CUSTOMERS, draft.profile.key(), draft.profile.encode(), draft.time, PROFILE
            )
        assert draft.event is not None
        if draft.kind == EVENT:
            value = draft.event.encode(self._produced_at())
            message = Message(
                TRANSACTIONS, draft.event.key(), value, draft.time, EVENT, None, draft.event
            )
            self._sent.append(message)
            return message
        sent = draft.original.value if draft.original is not None else None
        bad = make_bad(BadKind(draft.kind), self._bad_rng, draft.event, self._produced_at(), sent)
        return Message(
            TRANSACTIONS, bad.key, bad.value, draft.time, bad.kind, bad.reason, draft.event
        )

    def peek(self) -> tuple[datetime, Topic]:
        """The simulated time and topic of the next message, without taking it."""
        while not self._ready:
            self._step()
        return self._ready[0].time, self._ready[0].topic

    # -- the event loop ---------------------------------------------------------------

    def _push(self, t: float, payload: _Payload) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, payload))

    def _step(self) -> None:
        t, _, payload = heapq.heappop(self._heap)
        if isinstance(payload, Customer):
            self._candidate(payload, t)
        elif isinstance(payload, _Return):
            self._return(payload, t)
        elif isinstance(payload, _Arrival):
            self._push(t + self._rng.expovariate(self._arrival_rate), payload)
            if self._rng.random() < self._regime.arrivals / ARRIVALS_CAP:
                persona = PERSONAS[self._arrival_mix(self._rng)]
                signup = datetime.fromtimestamp(t, UTC).date()
                self._add(make_customer(self._rng, self._next_customer_id(), persona, t, signup), t)
        else:
            self._set_regime(payload.regime)

    def _set_regime(self, regime: Regime) -> None:
        self._regime = regime
        self._arrival_mix = WeightedChoice(regime.arrival_mix)
        self._price = Decimal(repr(regime.price))

    def _add(self, customer: Customer, t: float) -> None:
        self.customers.append(customer)
        self._schedule(customer, t)

    def _schedule(self, customer: Customer, t: float) -> None:
        work = self._rng.expovariate(self._behaviour[customer.persona.name].candidate_rate)
        self._push(customer.persona.pattern.advance(t, work), customer)

    def _candidate(self, customer: Customer, t: float) -> None:
        persona = customer.persona
        effect = self._regime.effect(persona.name)
        hazard = persona.churn_per_month * effect.churn / MONTH_S
        if self._rng.random() < -math.expm1(-hazard * (t - customer.last_check)):
            customer.churned_at = t
            return
        customer.last_check = t
        accept = season(int(t // DAY_S)) / SEASON_MAX * effect.rate / RATE_CAP
        if persona.half_life_days is not None:
            decay = 0.5 ** ((t - customer.joined) / (persona.half_life_days * DAY_S))
            if decay < _GONE_BELOW:
                customer.churned_at = t
                return
            accept *= decay
        if self._rng.random() < accept:
            self._order(customer, t)
        self._schedule(customer, t)

    def _order(self, customer: Customer, t: float) -> None:
        rng, persona = self._rng, customer.persona
        items = self._catalogue.basket(rng, persona, self._price)
        self._orders += 1
        order_id = f"{self.options.id_prefix}{self.options.seed}-o{self._orders}"
        event = Event(
            event_id=self._next_event_id(),
            event_type="purchase",
            customer_id=customer.id,
            order_id=order_id,
            event_time=datetime.fromtimestamp(t, UTC),
            amount=sum((i.total for i in items), Decimal(0)).quantize(CENTS),
            items=items,
            channel=self._behaviour[persona.name].channel(rng),
            country=customer.profile.country,
        )
        returns = persona.return_share * self._regime.effect(persona.name).returns
        if rng.random() < returns:
            after = rng.uniform(*_RETURN_AFTER_DAYS) * DAY_S
            self._push(t + after, _Return(customer, order_id, event.items, event.channel))
        self._emit(customer, event, t)

    def _return(self, r: _Return, t: float) -> None:
        items = returned(self._rng, r.items)
        event = Event(
            event_id=self._next_event_id(),
            event_type="return",
            customer_id=r.customer.id,
            order_id=r.order_id,
            event_time=datetime.fromtimestamp(t, UTC),
            amount=sum((i.total for i in items), Decimal(0)).quantize(CENTS),
            items=items,
            channel=r.channel,
            country=r.customer.profile.country,
        )
        self._emit(r.customer, event, t)

    def _emit(self, customer: Customer, event: Event, t: float) -> None:
        when = event.event_time
        if customer.seen_at is None:
            customer.seen_at = t
            self._ready.append(_Draft(when, CUSTOMERS, PROFILE, profile=customer.profile))
        while self._bad_rng.random() < self.options.bad_rate:
            self._ready.append(self._bad_draft(event))
        self._ready.append(_Draft(when, TRANSACTIONS, EVENT, event=event))

    def _bad_draft(self, event: Event) -> _Draft:
        rng = self._bad_rng
        # Only events already yielded can be re-sent; the first ones have none before them.
        kinds = self._bad_kinds if self._sent else self._bad_kinds_first
        kind = rng.choice(kinds)
        if kind is not BadKind.DUPLICATE:
            return _Draft(event.event_time, TRANSACTIONS, kind, event=event)
        original = self._sent[rng.randrange(max(1, len(self._sent) // 2))]
        return _Draft(event.event_time, TRANSACTIONS, kind, event=original.event, original=original)

    def _next_event_id(self) -> str:
        self._events += 1
        return f"{self.options.id_prefix}{self.options.seed}-e{self._events}"

    def _next_customer_id(self) -> str:
        return f"{self.options.id_prefix}{self.options.seed}-c{len(self.customers) + 1:06d}"
