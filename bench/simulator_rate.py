"""How fast the simulator generates messages in-process (no Kafka).

    .venv/bin/python -m bench.simulator_rate [--messages 200000] [--customers 2000]

Times N messages (profiles, purchases, returns, each encoded to its Kafka bytes) with no
bad messages and with 1%, and gives each as a ratio to the bare test generator
(`producers.generator`, uniform random orders, also encoded) over the same N.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from producers.generator import GeneratorOptions, generate
from producers.simulator import Simulator, SimulatorOptions


def _rate(messages: Iterable[object], n: int) -> float:
    started = time.perf_counter()
    for _ in itertools.islice(messages, n):
        pass
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=2000)
    args = parser.parse_args()
    n = args.messages
    stamp = datetime.now(UTC)

    start = datetime(2019, 1, 1, tzinfo=UTC)
    baseline_events = generate(GeneratorOptions(customers=args.customers, start=start))
    baseline = _rate((e.encode(stamp) for e in baseline_events), n)
    print(f"baseline generator:        {baseline:>9,.0f} events/s")
    for bad_rate in (0.0, 0.01):
        options = SimulatorOptions(customers=args.customers, start=start, bad_rate=bad_rate)
        rate = _rate(Simulator(options, produced_at=lambda: stamp), n)
        print(
            f"simulator, bad rate {bad_rate:.2f}: {rate:>9,.0f} messages/s"
            f"  ({rate / baseline:.2f}x baseline, {n:,} messages)"
        )


if __name__ == "__main__":
    main()
