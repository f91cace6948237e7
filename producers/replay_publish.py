"""`segstream replay`: publish the events read from a transaction export to Kafka."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from producers.pacing import Pacer
from producers.publisher import Publisher
from segstream.config import Settings
from segstream.contracts.customers import CustomerProfile
from segstream.contracts.events import Event
from segstream.runtime.signals import stop_on_signals

log = logging.getLogger(__name__)

_PROGRESS_EVERY_S = 5.0


def run(
    settings: Settings,
    events: Sequence[Event],
    speedup: float | None = None,
    rate: float | None = None,
) -> int:
    """Publishes `events` (sorted by event time) until done or SIGINT/SIGTERM; returns how
    many events the broker acknowledged.

    With `speedup` the real gap between two events is their event-time gap divided by it;
    without, events go out as fast as `rate` allows. Each customer's profile (id and
    country, all an export knows) goes to the customers topic before their first event.
    """
    published = 0
    seen: set[str] = set()
    with stop_on_signals("flushing and exiting") as stop:
        publisher = Publisher(settings)
        pacer = Pacer(rate)
        started = last_report = time.monotonic()
        try:
            for event in events:
                if speedup is not None:
                    # Scheduled against the start, so the replay keeps its pace overall.
                    gap = (event.event_time - events[0].event_time).total_seconds()
                    wait = started + gap / speedup - time.monotonic()
                    if wait > 0 and stop.wait(wait):
                        break
                if stop.is_set():
                    break
                pacer.wait()
                if event.customer_id not in seen:
                    seen.add(event.customer_id)
                    profile = CustomerProfile(event.customer_id, country=event.country)
                    publisher.send_raw(settings.topic_customers, profile.key(), profile.encode())
                publisher.send_event(event)
                published += 1
                now = time.monotonic()
                if now - last_report >= _PROGRESS_EVERY_S:
                    log.info(
                        "sent %d of %d events, %.0f events/s; event time %s",
                        published,
                        len(events),
                        pacer.achieved_rate(),
                        event.event_time.isoformat(),
                    )
                    last_report = now
        finally:
            publisher.close()
    log.info(
        "done: %d of %d events and %d customer profiles acknowledged in %.1f s",
        published,
        len(events),
        len(seen),
        time.monotonic() - started,
    )
    return published
