"""Weighted random choice for the simulator's hot path."""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from itertools import accumulate


class WeightedChoice:
    """Draws keys in proportion to their weights with one random number per draw."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        if not weights or min(weights.values()) < 0 or sum(weights.values()) <= 0:
            raise ValueError(f"weights must be >= 0 with a positive sum: {dict(weights)}")
        self.keys: Sequence[str] = tuple(weights)
        self._cum = list(accumulate(weights.values()))
        self._last = len(self._cum) - 1

    def __call__(self, rng: random.Random) -> str:
        # What random.choices does, without its per-call overhead (this is the hot path).
        x = rng.random() * self._cum[-1]
        return self.keys[bisect_right(self._cum, x, 0, self._last)]
