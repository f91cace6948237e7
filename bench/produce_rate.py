"""How fast one process publishes to the real broker.

    .venv/bin/python -m bench.produce_rate [--messages 200000] [--customers 2000]
        [--workers 2] [--paced-rate 5000] [--paced-seconds 10]

Three rates over the same N simulator messages, in one run against a fresh embedded broker:
generation alone (no Kafka, the baseline), publishing bytes prepared beforehand (what the
librdkafka producer alone sustains), generation plus publishing (what `segstream simulate
--speed max` does), and the same from N worker processes (`--workers N`). Every message is
acknowledged (acks=all) before a clock stops.

Then what a paced producer costs the cores it shares with the broker and the stream: the
CPU time of this process (all its threads, librdkafka's included) per second of wall time
while prepared messages go out at `--paced-rate`, against pacing the same loop without
sending (the baseline).
"""

from __future__ import annotations

import argparse
import itertools
import math
import tempfile
import time
from pathlib import Path

from producers.pacing import Pacer
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


def _paced_cores(
    settings: Settings, messages: list[tuple[bytes, bytes]], rate: float, publish: bool
) -> float:
    """Cores this process used while pacing `messages` at `rate`/s (and publishing them)."""
    publisher = Publisher(settings) if publish else None
    pacer = Pacer(rate)
    wall, cpu = time.perf_counter(), time.process_time()
    for key, value in messages:
        pacer.wait()
        if publisher is not None:
            publisher.send_raw(settings.topic_transactions, key, value)
    if publisher is not None:
        publisher.close()
        assert publisher.acked == len(messages), f"{publisher.acked} of {len(messages)} acked"
    return (time.process_time() - cpu) / (time.perf_counter() - wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--paced-rate", type=float, default=5000)
    parser.add_argument("--paced-seconds", type=float, default=10)
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
        paced = prepared[: int(args.paced_rate * args.paced_seconds)]
        pace_only = _paced_cores(settings, paced, args.paced_rate, publish=False)
        pace_send = _paced_cores(settings, paced, args.paced_rate, publish=True)
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
    rate = f"{args.paced_rate:,.0f} msg/s"
    print(f"{'pacing only at ' + rate + ' (baseline), cores':<44} {pace_only:>10.3f}")
    print(f"{'pacing + publishing at ' + rate + ', cores':<44} {pace_send:>10.3f}")


if __name__ == "__main__":
    main()
