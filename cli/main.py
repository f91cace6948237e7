"""`segstream <command>`: parse arguments, build the settings, run the command.

This module holds the top-level parser and the error handling; the commands themselves, with
their options, are in `cli/commands/` (one module per group, see its `__init__`), and the
settings options every command shares in `segstream/options.py`. Heavy modules (Spark, Kafka
clients) are imported inside the commands so `--help` is fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli.commands import Command, jobs, models, monitor, replay, runtime, simulate, stream
from segstream import log_config, options
from segstream.errors import SegstreamError


def build_parser() -> argparse.ArgumentParser:
    common = options.settings_parser()
    parser = argparse.ArgumentParser(
        prog="segstream",
        description="Near-real-time customer segmentation on Kafka, Spark and Delta Lake.",
        epilog=options.EPILOG,
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
            epilog=f"{epilog}\n\n{options.EPILOG}",
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
    jobs.register(add)
    monitor.register(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_config.configure(args.log_level)
    try:
        settings = options.settings_from(args)
        code: int = args.func(settings, args)
        return code
    except SegstreamError as exc:
        print(f"segstream {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
