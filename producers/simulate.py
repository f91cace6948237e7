"""`segstream simulate`: publish generated purchases at a steady rate until told to stop."""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from types import FrameType

from producers.generator import GeneratorOptions, generate
from producers.pacing import Pacer
from producers.publisher import Publisher
from segstream.config import Settings

log = logging.getLogger(__name__)

_PROGRESS_EVERY_S = 5.0


@dataclass(frozen=True)
class RunLimits:
    rate: float | None = None
    max_events: int | None = None
    duration_s: float | None = None


def run(settings: Settings, options: GeneratorOptions, limits: RunLimits) -> int:
    """Publishes events until a limit is reached or SIGINT/SIGTERM; returns how many were sent.

    Every sent event is acknowledged by the broker before this returns.
    """
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: flushing and exiting", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    publisher = Publisher(settings)
    pacer = Pacer(limits.rate)
    started = last_report = time.monotonic()
    try:
        for event in generate(options):
            if stop.is_set() or (
                limits.max_events is not None and pacer.count >= limits.max_events
            ):
                break
            now = time.monotonic()
            if limits.duration_s is not None and now - started >= limits.duration_s:
                break
            pacer.wait()
            publisher.send_event(event)
            if now - last_report >= _PROGRESS_EVERY_S:
                log.info("sent %d events, %.0f events/s", pacer.count, pacer.achieved_rate())
                last_report = now
    finally:
        publisher.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    log.info(
        "done: %d events acknowledged in %.1f s (%.0f events/s)",
        publisher.acked,
        time.monotonic() - started,
        pacer.achieved_rate(),
    )
    return publisher.acked
