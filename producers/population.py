"""Simulated customers: demographics, a hidden persona and their life-cycle state."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from producers.personas import PERSONAS, Persona
from producers.sampling import WeightedChoice
from segstream.contracts.customers import CustomerProfile

# The persona mix of the customers who exist when a simulation starts.
INITIAL_MIX: Mapping[str, float] = {
    "champion": 0.08,
    "loyal": 0.22,
    "big_spender": 0.10,
    "bargain_hunter": 0.20,
    "new": 0.12,
    "drifting": 0.15,
    "lapsed": 0.13,
}

_COUNTRIES = (
    ("US", "North America", 0.30),
    ("CA", "North America", 0.06),
    ("MX", "Latin America", 0.05),
    ("BR", "Latin America", 0.06),
    ("GB", "Europe", 0.10),
    ("DE", "Europe", 0.09),
    ("FR", "Europe", 0.07),
    ("ES", "Europe", 0.04),
    ("NL", "Europe", 0.03),
    ("IN", "Asia", 0.08),
    ("JP", "Asia", 0.05),
    ("AU", "Oceania", 0.04),
    ("ZA", "Africa", 0.03),
)
_GENDERS = {"F": 0.49, "M": 0.48, "X": 0.03}
_SIGNUP_CHANNELS = {"web": 0.45, "app": 0.30, "store": 0.15, "referral": 0.10}


_COUNTRY = WeightedChoice({c: w for c, _, w in _COUNTRIES})
_REGION = {c: r for c, r, _ in _COUNTRIES}
_GENDER = WeightedChoice(_GENDERS)
_SIGNUP_CHANNEL = WeightedChoice(_SIGNUP_CHANNELS)
_INCOME = {p.name: WeightedChoice(p.income) for p in PERSONAS.values()}


@dataclass(eq=False, slots=True)
class Customer:
    """One simulated customer; times are epoch seconds of simulated time."""

    profile: CustomerProfile
    persona: Persona
    joined: float
    last_check: float
    seen_at: float | None = None
    churned_at: float | None = None

    @property
    def id(self) -> str:
        return self.profile.customer_id


def make_customer(
    rng: random.Random, customer_id: str, persona: Persona, joined: float, signup: date
) -> Customer:
    """A customer of `persona` with demographics drawn to fit it."""
    country = _COUNTRY(rng)
    profile = CustomerProfile(
        customer_id=customer_id,
        signup_date=signup,
        birth_year=rng.randint(*persona.birth_years),
        gender=_GENDER(rng),
        country=country,
        region=_REGION[country],
        channel=_SIGNUP_CHANNEL(rng),
        income_band=_INCOME[persona.name](rng),
    )
    return Customer(profile=profile, persona=persona, joined=joined, last_check=joined)


def initial_customer(
    rng: random.Random, customer_id: str, mix: WeightedChoice, joined: float, today: date
) -> Customer:
    """A customer who already exists at the start, signed up within the persona's tenure."""
    persona = PERSONAS[mix(rng)]
    signup = today - timedelta(days=rng.randint(*persona.tenure_days))
    return make_customer(rng, customer_id, persona, joined, signup)
