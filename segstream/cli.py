"""`segstream <command>`: parse arguments, build the settings, run the command.

This module holds the top-level parser, the settings options common to every command and
the error handling; the commands themselves, with their options, are in `segstream/commands/`
(one module per group, see its `__init__`). Heavy modules (Spark, Kafka clients) are imported
inside the commands so `--help` is fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from segstream.commands import Command, batch, models, monitor, replay, runtime, simulate, stream
from segstream.config import ConfigError, Settings, load_settings
from segstream.runtime.errors import BrokerError, RuntimeSetupError

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
        name: str, func: Command, help_: str, example: str, *, epilog: str | None = None
    ) -> argparse.ArgumentParser:
        """Adds the command `name`, run by `func`, with the common settings options; its
        epilog is `example` (or `epilog`, when given) followed by the note on SEGSTREAM_*."""
        if epilog is None:
            epilog = f"example:\n  {example}"
        p = sub.add_parser(
            name,
            parents=[common],
            help=help_,
            description=help_,
            epilog=f"{epilog}\n\n{_EPILOG}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(func=func)
        return p

    # In the order of `segstream --help`.
    runtime.register(add)
    simulate.register(add)
    replay.register(add)
    stream.register(add)
    models.register(add)
    batch.register(add)
    monitor.register(add)
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
