"""Planted customer groups for the batch tests: raw (recency days, orders, money) rows around
known centres, far apart after the log transform, so the right clustering is known."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

FEATURES = ("recency_days", "frequency", "monetary")
# group: (recency days, orders, money) at its centre
GROUPS = {
    "champions": (3.0, 30.0, 3000.0),
    "lost": (400.0, 1.0, 20.0),
    "new": (5.0, 1.0, 30.0),
    "at_risk": (200.0, 15.0, 1500.0),
    "big_spenders": (60.0, 3.0, 20000.0),
}
FOUR = ["champions", "lost", "new", "at_risk"]


def planted(groups: list[str], per: int = 80, seed: int = 0) -> np.ndarray:
    """`per` rows around each group's centre (lognormal noise, one-order groups exactly 1)."""
    rng = np.random.default_rng(seed)
    parts = []
    for g in groups:
        r, f, m = GROUPS[g]
        noise = rng.lognormal(0.0, 0.15, size=(per, 3))
        orders = np.maximum(1.0, np.round(f * noise[:, 1])) if f > 1 else np.ones(per)
        parts.append(np.column_stack([r * noise[:, 0], orders, m * noise[:, 2]]))
    return np.vstack(parts)


def rfm_frame(x: np.ndarray, as_of: datetime, prefix: str = "p") -> pd.DataFrame:
    """customer_rfm rows (money as float) whose features at `as_of` are the rows of `x`."""
    end = pd.Timestamp(as_of).tz_convert("UTC").tz_localize(None)
    last = end - pd.to_timedelta(np.round(x[:, 0] * 86_400.0), unit="s")
    orders = x[:, 1].astype("int64")
    money = np.round(x[:, 2], 2)
    return pd.DataFrame(
        {
            "customer_id": [f"{prefix}{i:05d}" for i in range(len(x))],
            "first_purchase_at": last - pd.Timedelta(days=100),
            "last_purchase_at": last,
            "orders": orders,
            "gross_revenue": money,
            "returns_amount": np.zeros(len(x)),
            "monetary": money,
            "items": orders,
            "last_event_at": last,
            "updated_at": end,
        }
    )
