"""Simulated time: a clock that runs faster than the real one but never ahead of it."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

# 2019-01-01 leaves more than five years before any date this code runs at: a demo at the
# default speed (one simulated day per second) covers 1800 simulated days in 30 minutes and
# so never reaches the present, where the clock would slow down to real time.
DEFAULT_START = datetime(2019, 1, 1, tzinfo=UTC)
DEFAULT_SPEED = 86_400.0


def parse_speed(text: str) -> float:
    """Parses a speed argument: simulated seconds per real second, or `max` for unbounded.

    Raises:
        ValueError: the text is neither `max` nor a number > 0.
    """
    if text.strip().lower() == "max":
        return math.inf
    value = float(text)
    if not value > 0:
        raise ValueError(f"speed must be > 0 or 'max', got {text}")
    return value


class SimClock:
    """Simulated time that runs `speed` times as fast as the real clock from `start` on.

    The simulated clock is capped at the real wall clock: once a simulation catches up with
    the present it goes on in real time, so it never stamps an event with a future time
    (the stream rejects those). With `speed` infinite the simulated time is the wall clock,
    so everything in the past is due at once.

    Args:
        start: simulated time at the moment the clock is created (timezone-aware).
        speed: simulated seconds per real second, > 0; `math.inf` for unbounded.
        real: the real clock in seconds since the epoch; injectable for tests.
    """

    def __init__(
        self, start: datetime, speed: float, real: Callable[[], float] = time.time
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must carry a timezone")
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.start = start
        self.speed = speed
        self._real = real
        self._origin = real()

    def now(self) -> datetime:
        """The current simulated time."""
        real = self._real()
        wall = datetime.fromtimestamp(real, UTC)
        if math.isinf(self.speed):
            return wall
        return min(self.start + timedelta(seconds=(real - self._origin) * self.speed), wall)

    def seconds_until(self, when: datetime) -> float:
        """Real seconds until the simulated clock reaches `when`; 0 if it already has."""
        real = self._real()
        wait = (when - datetime.fromtimestamp(real, UTC)).total_seconds()
        if not math.isinf(self.speed):
            simulated = (when - self.start).total_seconds() / self.speed - (real - self._origin)
            wait = max(wait, simulated)
        return max(wait, 0.0)
