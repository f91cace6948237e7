"""The contract of topic `customers`: one customer's demographics.

The topic is compacted: key = customer id (UTF-8), value = one JSON object (UTF-8), so the
latest profile of every customer survives. Only the id is required; a producer that knows
nothing else about a customer still publishes the id so the customer exists downstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from segstream.contracts.events import dumps


@dataclass(frozen=True)
class CustomerProfile:
    """One customer's demographics as producers publish them."""

    customer_id: str
    signup_date: date | None = None
    birth_year: int | None = None
    gender: str | None = None
    country: str | None = None
    region: str | None = None
    channel: str | None = None
    income_band: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the message value; unknown fields are left out, not null."""
        out: dict[str, Any] = {"customer_id": self.customer_id}
        if self.signup_date is not None:
            out["signup_date"] = self.signup_date.isoformat()
        optional = {
            "birth_year": self.birth_year,
            "gender": self.gender,
            "country": self.country,
            "region": self.region,
            "channel": self.channel,
            "income_band": self.income_band,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out

    def key(self) -> bytes:
        return self.customer_id.encode("utf-8")

    def encode(self) -> bytes:
        return dumps(self.to_dict())
