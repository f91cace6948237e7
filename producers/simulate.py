"""`segstream simulate`: publish the simulated population's messages to Kafka, paced by the
simulated clock, until told to stop."""

from __future__ import annotations

import dataclasses
import logging
import math
import multiprocessing
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from producers.clock import DEFAULT_SPEED, SimClock
from producers.messages import CUSTOMERS, TRANSACTIONS
from producers.pacing import Pacer
from producers.publisher import Publisher
from producers.simulator import Simulator, SimulatorOptions
from producers.truth import TruthLog
from segstream.config import Settings
from segstream.runtime.signals import stop_on_signals

log = logging.getLogger(__name__)

_PROGRESS_EVERY_S = 5.0
# Longest single sleep, so limits and signals are noticed while the clock runs slowly.
_MAX_WAIT_S = 0.5


@dataclass(frozen=True)
class RunLimits:
    """When to stop; `rate` caps `transactions` messages per second.

    `max_events` counts `transactions` messages (valid and bad), not customer profiles.
    """

    rate: float | None = None
    max_events: int | None = None
    duration_s: float | None = None


def run(
    settings: Settings,
    options: SimulatorOptions,
    limits: RunLimits,
    speed: float = DEFAULT_SPEED,
    truth: Path | None = None,
) -> int:
    """Publishes messages until a limit is reached or SIGINT/SIGTERM; returns how many the
    broker acknowledged (both topics).

    A message goes out once the simulated clock (`speed` simulated seconds per real
    second, never ahead of the wall clock) reaches its time, and no faster than
    `limits.rate`. Every sent message is acknowledged before this returns; the ground
    truth, if asked for, is written even when publishing fails.
    """
    simulator = Simulator(options)
    clock = SimClock(options.start, speed)
    labels = TruthLog()
    topics = {TRANSACTIONS: settings.topic_transactions, CUSTOMERS: settings.topic_customers}
    sent: Counter[str] = Counter()
    simulated = options.start
    log.info(
        "simulating %d customers (seed %d, scenario %s) from %s at %s simulated s/s",
        options.customers,
        options.seed,
        options.scenario,
        options.start.isoformat(),
        "max" if math.isinf(speed) else f"{speed:g}",
    )
    for when, shift in simulator.timeline:
        log.info(
            "scenario shift %s at %s: %s", shift.name, when.isoformat(), shift.regime.description
        )
    with stop_on_signals("flushing and exiting") as stop:
        publisher = Publisher(settings)
        pacer = Pacer(limits.rate)
        started = last_report = time.monotonic()
        try:
            while not stop.is_set():
                now = time.monotonic()
                if limits.max_events is not None and pacer.count >= limits.max_events:
                    break
                if limits.duration_s is not None and now - started >= limits.duration_s:
                    break
                when, topic = simulator.peek()
                wait = clock.seconds_until(when)
                if wait > 0:
                    stop.wait(min(wait, _MAX_WAIT_S))
                    continue
                if topic == TRANSACTIONS:
                    pacer.wait()
                message = next(simulator)
                publisher.send_raw(topics[message.topic], message.key, message.value)
                labels.record(message)
                sent["bad" if message.reason else message.topic] += 1
                simulated = message.time
                if now - last_report >= _PROGRESS_EVERY_S:
                    _progress("sent", sent, pacer, simulated)
                    last_report = now
        finally:
            try:
                publisher.close()
            finally:
                if truth is not None:
                    files = labels.write(truth, simulator)
                    log.info("ground truth written: %s", ", ".join(str(f) for f in files))
    _progress("done", sent, pacer, simulated)
    log.info("%d messages acknowledged in %.1f s", publisher.acked, time.monotonic() - started)
    return publisher.acked


def _progress(what: str, sent: Counter[str], pacer: Pacer, simulated: datetime) -> None:
    log.info(
        "%s %d transactions (%d bad) and %d profiles, %.0f transactions/s; simulated time %s",
        what,
        sent[TRANSACTIONS] + sent["bad"],
        sent["bad"],
        sent[CUSTOMERS],
        pacer.achieved_rate(),
        simulated.isoformat(timespec="seconds"),
    )


def _shares(total: int, workers: int) -> list[int]:
    return [total // workers + (1 if i < total % workers else 0) for i in range(workers)]


def worker_options(options: SimulatorOptions, workers: int) -> list[SimulatorOptions]:
    """Each worker simulates its own share of the customers, with its own seed and id
    prefix, so the workers never emit the same id and the same (seed, workers) repeats."""
    return [
        dataclasses.replace(
            options,
            customers=max(1, share),
            seed=options.seed * 1000 + i,
            id_prefix=f"{options.id_prefix}w{i}-",
        )
        for i, share in enumerate(_shares(options.customers, workers))
    ]


def _worker(
    settings: Settings,
    options: SimulatorOptions,
    limits: RunLimits,
    speed: float,
    truth: Path | None,
    acked: Any,
) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("kafka").setLevel(logging.ERROR)
    acked.value = run(settings, options, limits, speed, truth)


def run_workers(
    settings: Settings,
    options: SimulatorOptions,
    limits: RunLimits,
    speed: float = DEFAULT_SPEED,
    truth: Path | None = None,
    workers: int = 1,
) -> int:
    """`run` in `workers` processes, which share the rate and the event budget; returns how
    many messages the broker acknowledged in all. SIGINT/SIGTERM reach every worker, and
    each flushes what it sent before exiting."""
    if workers <= 1:
        return run(settings, options, limits, speed, truth)
    ctx = multiprocessing.get_context("spawn")
    budgets = (
        _shares(limits.max_events, workers) if limits.max_events is not None else [None] * workers
    )
    procs = []
    for i, (opts, budget) in enumerate(zip(worker_options(options, workers), budgets, strict=True)):
        share = RunLimits(
            rate=None if limits.rate is None else limits.rate / workers,
            max_events=budget,
            duration_s=limits.duration_s,
        )
        acked = ctx.Value("q", 0)
        path = None if truth is None else truth / f"worker-{i}"
        proc = ctx.Process(target=_worker, args=(settings, opts, share, speed, path, acked))
        proc.start()
        procs.append((proc, acked))
    with stop_on_signals("flushing and exiting") as stop:
        while any(p.is_alive() for p, _ in procs):
            if stop.wait(0.5):
                for p, _ in procs:
                    if p.pid is not None and p.is_alive():
                        os.kill(p.pid, signal.SIGTERM)
                break
        for p, _ in procs:
            p.join()
    failed = [p.exitcode for p, _ in procs if p.exitcode]
    if failed:
        raise RuntimeError(
            f"{len(failed)} of {workers} simulator workers failed (exit codes {failed})"
        )
    return sum(int(a.value) for _, a in procs)
