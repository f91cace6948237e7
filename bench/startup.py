"""Start-up costs of the local runtime and the first stream slice.

    .venv/bin/python -m bench.startup [--events 2000] [--cold-jars]

Measures jar resolution (cached, and cold into an empty cache with --cold-jars), broker start
(fresh storage, restart, restart after SIGKILL), Spark session start, and `stream --once` over
N produced events; the stream time is also given as a ratio to the bare session start.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from producers.generator import GeneratorOptions, generate
from producers.publisher import Publisher
from segstream.config import LOOPBACK, load_settings
from segstream.runtime import jars, kafka_broker, topics
from segstream.runtime.processes import free_port

T = TypeVar("T")


def timed(label: str, fn: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = fn()
    elapsed = time.perf_counter() - started
    print(f"{label:<40} {elapsed:8.2f} s", flush=True)
    return value, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--cold-jars", action="store_true", help="also resolve into an empty cache")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="segstream-bench-"))
    settings = load_settings(
        lake=root / "lake",
        home=root / "home",
        kafka_port=free_port(LOOPBACK),
        kafka_controller_port=free_port(LOOPBACK),
    )
    if args.cold_jars:
        cold = settings.model_copy(update={"jars": root / "jars"})
        timed("jar resolution, cold (network)", lambda: jars.resolve_all(cold))
    timed("jar resolution, cached", lambda: jars.resolve_all(settings))

    status, _ = timed("broker start, fresh storage", lambda: kafka_broker.start(settings))
    try:
        timed("topic creation", lambda: topics.ensure_topics(settings))
        timed("broker stop", lambda: kafka_broker.stop(settings))
        status, _ = timed("broker restart", lambda: kafka_broker.start(settings))
        assert status.pid is not None
        os.kill(status.pid, signal.SIGKILL)
        time.sleep(0.5)
        timed("broker start after SIGKILL", lambda: kafka_broker.start(settings))

        events = list(
            itertools.islice(
                generate(GeneratorOptions(customers=100, start=datetime(2024, 1, 1, tzinfo=UTC))),
                args.events,
            )
        )
        publisher = Publisher(settings)

        def publish() -> None:
            for e in events:
                publisher.send_event(e)
            publisher.close()

        timed(f"produce {args.events} events", publish)
        from segstream.spark_session import get_spark

        spark, session_s = timed(
            "Spark session start (in process)", lambda: get_spark(settings, "bench")
        )
        spark.stop()
        cmd = [sys.executable, "-m", "cli.main", "stream", "--once", "--log-level", "WARNING"]
        _, once_s = timed(
            f"stream --once on {args.events} events (process)",
            lambda: subprocess.run(cmd, env=settings.to_env(), check=True),
        )
        print(f"{'ratio stream --once / session start':<40} {once_s / session_s:8.2f} x")
    finally:
        kafka_broker.stop(settings)


if __name__ == "__main__":
    main()
