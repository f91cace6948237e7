"""`segstream stream | demo`: the streaming job, and the live system around it (embedded
broker, simulator and stream under one supervisor)."""

from __future__ import annotations

import argparse

from cli.commands import Add, _positive
from segstream.config import Settings


def register(add: Add) -> None:
    p = add(
        "stream",
        cmd_stream,
        "run the streaming job: Kafka -> customer state -> segment feed, and Delta behind it",
        "segstream stream --once",
    )
    p.add_argument(
        "--once",
        action="store_true",
        help="process everything available (and what that produces), then exit",
    )
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="first remove what the stream derived (its checkpoints; the tables events, "
        "quarantine, customers, customer_rfm, customer_segments, segment_history, "
        "stream_metrics; the topics customer-scores and segment-changes) and derive it again "
        "from the topics: after a lost checkpoint. Stop the stream first; refused when "
        "transactions no longer holds every message",
    )
    p = add(
        "demo",
        cmd_demo,
        "run the live system: broker, simulator, stream, scheduler and monitor; Ctrl-C stops all",
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


def cmd_stream(settings: Settings, args: argparse.Namespace) -> int:
    from streaming import job

    job.run(settings, once=args.once, rebuild=args.rebuild)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from cli import demo

    return demo.run(settings, rate=args.rate, keep_broker=args.keep_broker)
