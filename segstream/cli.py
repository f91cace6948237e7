"""`segstream <command>`: parse arguments, build the settings, call the command's `run`.

Heavy modules (Spark, Kafka clients) are imported inside the commands so `--help` is fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from segstream.config import ConfigError, Settings, load_settings
from segstream.runtime.errors import BrokerError, RuntimeSetupError

log = logging.getLogger("segstream")

_EPILOG = """\
Every option can also be set in the environment as SEGSTREAM_<NAME> (e.g. SEGSTREAM_LAKE,
SEGSTREAM_KAFKA_BOOTSTRAP); flags win over the environment. `segstream config` prints the
effective values.
"""


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("settings (override SEGSTREAM_* variables)")
    g.add_argument("--lake", type=Path, help="Delta tables and checkpoints (default ./lake)")
    g.add_argument(
        "--home", type=Path, help="runtime state: broker data, logs (default ./.segstream)"
    )
    g.add_argument("--jars", type=Path, help="JVM jar cache (default ~/.cache/segstream/jars)")
    g.add_argument(
        "--kafka-bootstrap", help="use this Kafka cluster instead of the embedded broker"
    )
    g.add_argument("--kafka-port", type=int, help="embedded broker port (default 9092)")
    g.add_argument(
        "--kafka-controller-port", type=int, help="embedded controller port (default 9093)"
    )
    g.add_argument(
        "--spark-master", help="Spark master when not under spark-submit (default local[2])"
    )
    g.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


_SETTING_FLAGS = (
    "lake",
    "home",
    "jars",
    "kafka_bootstrap",
    "kafka_port",
    "kafka_controller_port",
    "spark_master",
)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(**{name: getattr(args, name, None) for name in _SETTING_FLAGS})


def cmd_config(settings: Settings, _args: argparse.Namespace) -> int:
    print(json.dumps(settings.masked(), indent=2))
    return 0


def cmd_jars(settings: Settings, _args: argparse.Namespace) -> int:
    from segstream.runtime import jars

    started = time.monotonic()
    resolved = jars.resolve_all(settings)
    for name, paths in resolved.items():
        print(f"{name}: {len(paths)} jars in {settings.jars}")
    print(f"ready in {time.monotonic() - started:.1f} s")
    return 0


def cmd_kafka(settings: Settings, args: argparse.Namespace) -> int:
    from segstream.runtime import kafka_broker, topics

    if args.action == "start":
        already = kafka_broker.status(settings).running
        started = time.monotonic()
        st = kafka_broker.start(settings)
        created = topics.ensure_topics(settings)
        verb = "already running" if already else f"started in {time.monotonic() - started:.1f} s"
        print(f"kafka {verb}: {st.bootstrap} (pid {st.pid}), log {st.log_file}")
        if created:
            print(f"created topics: {', '.join(created)}")
        return 0
    if args.action == "stop":
        print("kafka stopped" if kafka_broker.stop(settings) else "kafka was not running")
        return 0
    st = kafka_broker.status(settings)
    state = f"running (pid {st.pid})" if st.running else "stopped"
    print(f"kafka {state}: {st.bootstrap}")
    return 0 if st.running else 3


def cmd_topics(settings: Settings, _args: argparse.Namespace) -> int:
    from segstream.runtime import topics

    created = topics.ensure_topics(settings)
    print(f"created: {', '.join(created)}" if created else "all topics exist")
    return 0


def cmd_simulate(settings: Settings, args: argparse.Namespace) -> int:
    from producers import simulate
    from producers.generator import GeneratorOptions

    options = GeneratorOptions(customers=args.customers, seed=args.seed, start=args.start)
    limits = simulate.RunLimits(
        rate=args.rate, max_events=args.max_events, duration_s=args.duration
    )
    simulate.run(settings, options, limits)
    return 0


def cmd_stream(settings: Settings, args: argparse.Namespace) -> int:
    from streaming import job

    job.run(settings, once=args.once)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from segstream import demo

    return demo.run(settings, rate=args.rate, keep_broker=args.keep_broker)


def _utc_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _positive(kind: Callable[[str], float | int]) -> Callable[[str], float | int]:
    def parse(text: str) -> float | int:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="segstream",
        description="Near-real-time customer segmentation on Kafka, Spark and Delta Lake.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, func: Callable[[Settings, argparse.Namespace], int], help_: str, example: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            parents=[common],
            help=help_,
            description=help_,
            epilog=f"example:\n  {example}\n\n{_EPILOG}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(func=func)
        return p

    add("config", cmd_config, "print the effective settings (secrets masked)", "segstream config")
    add(
        "jars",
        cmd_jars,
        "resolve the Kafka broker, Kafka source and Delta jars into the cache",
        "segstream jars",
    )
    p = add(
        "kafka",
        cmd_kafka,
        "start, stop or inspect the embedded single-node KRaft broker",
        "segstream kafka start --kafka-port 19092 --kafka-controller-port 19093",
    )
    p.add_argument("action", choices=["start", "stop", "status"])
    add(
        "topics",
        cmd_topics,
        "create the transactions and customers topics if missing",
        "SEGSTREAM_KAFKA_BOOTSTRAP=broker1:9092 segstream topics",
    )
    p = add(
        "simulate",
        cmd_simulate,
        "publish simulated purchases and returns to Kafka",
        "segstream simulate --rate 500 --customers 1000 --max-events 100000",
    )
    p.add_argument(
        "--customers", type=_positive(int), default=1000, help="customer population (default 1000)"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="random seed: same seed, same events (default 0)"
    )
    p.add_argument(
        "--start",
        type=_utc_datetime,
        default=datetime(2024, 1, 1, tzinfo=UTC),
        help="simulated time of the first event, ISO-8601 (default 2024-01-01T00:00Z)",
    )
    p.add_argument(
        "--rate",
        type=_positive(float),
        help="events per second, evenly paced (default: as fast as possible)",
    )
    p.add_argument("--max-events", type=_positive(int), help="stop after this many events")
    p.add_argument("--duration", type=_positive(float), help="stop after this many seconds")
    p = add(
        "stream",
        cmd_stream,
        "run the streaming job: Kafka -> events, quarantine, customer_rfm",
        "segstream stream --once",
    )
    p.add_argument("--once", action="store_true", help="process everything available, then exit")
    p = add(
        "demo",
        cmd_demo,
        "run the live system: broker, simulator and stream; Ctrl-C stops all",
        "segstream demo --rate 200",
    )
    p.add_argument(
        "--rate",
        type=_positive(float),
        default=200.0,
        help="simulated events per second (default 200)",
    )
    p.add_argument(
        "--keep-broker", action="store_true", help="leave the embedded broker running on exit"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # kafka-python narrates every connection at INFO; our own code reports what matters.
    logging.getLogger("kafka").setLevel(
        logging.ERROR if args.log_level != "DEBUG" else logging.DEBUG
    )
    try:
        settings = _settings(args)
        code: int = args.func(settings, args)
        return code
    except ConfigError as exc:
        print(f"segstream: {exc}", file=sys.stderr)
        return 2
    except (BrokerError, RuntimeSetupError) as exc:
        print(f"segstream {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
