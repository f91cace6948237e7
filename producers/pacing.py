"""Even pacing of a send loop at a target rate."""

from __future__ import annotations

import time
from collections.abc import Callable

# A sleep per event cost 0.2 core at 5,000 events/s (each is a system call and a wake-up);
# sending up to this far ahead of schedule turns them into one sleep per short burst.
MIN_SLEEP_S = 0.005


class Pacer:
    """Sleeps just enough that the n-th event goes out at `n / rate` seconds after start, or at
    most `MIN_SLEEP_S` before.

    Scheduling against the start time (not the previous event) keeps the long-run rate exact
    even when single sends are slow.
    """

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate = rate
        self._clock = clock
        self._sleep = sleep
        self._start = clock()
        self.count = 0

    def wait(self) -> None:
        if self._rate:
            delay = self._start + self.count / self._rate - self._clock()
            if delay >= MIN_SLEEP_S:
                self._sleep(delay)
        self.count += 1

    def achieved_rate(self) -> float:
        elapsed = self._clock() - self._start
        return self.count / elapsed if elapsed > 0 else 0.0
