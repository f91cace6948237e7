"""How fast one process publishes to the real broker.

    .venv/bin/python -m bench.produce_rate [--messages 200000] [--customers 2000]

Three rates over the same N simulator messages, in one run against a fresh embedded broker:
generation alone (no Kafka, the baseline), publishing bytes prepared beforehand (what
kafka-python alone sustains), generation plus publishing (what `segstream simulate
--speed max` does), and the same from N worker processes (`--workers N`). Every message is
acknowledged (acks=all) before a clock stops.
"""

from __future__ import annotations

import argparse
import itertools
import math
import tempfile
import time
from pathlib import Path

from producers.publisher import Publisher
from producers.simulate import RunLimits, run_workers
from producers.simulator import Simulator, SimulatorOptions
from segstream.config import LOOPBACK, Settings, load_settings
from segstream.runtime import kafka_broker, topics
from segstream.runtime.processes import free_port


def _publish(
    settings: Settings,
    messages: list[tuple[bytes, bytes]] | None,
    options: SimulatorOptions,
    n: int,
) -> float:
    publisher = Publisher(settings)
    started = time.perf_counter()
    if messages is None:
        for m in itertools.islice(Simulator(options), n):
            publisher.send_raw(settings.topic_transactions, m.key, m.value)
    else:
        for key, value in messages:
            publisher.send_raw(settings.topic_transactions, key, value)
    publisher.close()
    elapsed = time.perf_counter() - started
    assert publisher.acked == n, f"{publisher.acked} of {n} acknowledged"
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    options = SimulatorOptions(customers=args.customers, seed=1)
    n = args.messages

    started = time.perf_counter()
    prepared = [(m.key, m.value) for m in itertools.islice(Simulator(options), n)]
    generate_rate = n / (time.perf_counter() - started)

    root = Path(tempfile.mkdtemp(prefix="segstream-bench-"))
    settings = load_settings(
        lake=root / "lake",
        home=root / "home",
        kafka_port=free_port(LOOPBACK),
        kafka_controller_port=free_port(LOOPBACK),
    )
    kafka_broker.start(settings)
    try:
        topics.ensure_topics(settings)
        send_rate = _publish(settings, prepared, options, n)
        both_rate = _publish(settings, None, options, n)
        started = time.perf_counter()
        limits = RunLimits(max_events=n)
        acked = run_workers(settings, options, limits, speed=math.inf, workers=args.workers)
        workers_rate = acked / (time.perf_counter() - started)
    finally:
        kafka_broker.stop(settings)
    print(f"{'messages':<44} {n:>10,}")
    print(f"{'generate only (baseline), msg/s':<44} {generate_rate:>10,.0f}")
    print(
        f"{'publish prepared bytes, msg/s':<44} {send_rate:>10,.0f}  {send_rate / generate_rate:5.2f} x baseline"
    )
    print(
        f"{'generate + publish (simulate), msg/s':<44} {both_rate:>10,.0f}  {both_rate / generate_rate:5.2f} x baseline"
    )
    label = f"simulate --workers {args.workers}, msg/s"
    print(f"{label:<44} {workers_rate:>10,.0f}  {workers_rate / generate_rate:5.2f} x baseline")


if __name__ == "__main__":
    main()
