"""`segstream simulate`: publish a simulated customer population's transactions to Kafka."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.commands import Add, _positive, _utc_datetime
from segstream.config import Settings


def register(add: Add) -> None:
    from producers.clock import DEFAULT_SPEED, DEFAULT_START, parse_speed
    from producers.scenarios import DEFAULT_SCENARIO, SCENARIOS

    def speed(text: str) -> float:
        try:
            return parse_speed(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be > 0 or 'max', got {text}") from None

    def share(text: str) -> float:
        value = float(text)
        if not 0 <= value < 1:
            raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
        return value

    def days(text: str) -> float:
        value = float(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return value

    scenarios = "\n".join(
        f"  {s.name:<22} {s.summary}"
        + (f" (starts day {s.starts_after.days})" if s.shifts else "")
        + (" [default]" if s.name == DEFAULT_SCENARIO else "")
        for s in SCENARIOS.values()
    )
    p = add(
        "simulate",
        cmd_simulate,
        "publish a simulated customer population's purchases, returns and profiles to Kafka",
        "segstream simulate",
        epilog=f"""\
Customers of seven hidden personas (champion, loyal, big_spender, bargain_hunter, new,
drifting, lapsed) order in simulated time; a scenario shifts their behaviour partway.
A message goes out when the simulated clock reaches its time; the simulated clock never
runs ahead of the real one, so event times are never in the future.

scenarios:
{scenarios}

examples:
  segstream simulate                                   # the demo: 2000 customers, 1 day/s
  segstream simulate --customers 500 --seed 7          # another, smaller population
  segstream simulate --start 2022-06-01T00:00:00Z      # simulated time to begin at
  segstream simulate --speed 3600                      # one simulated hour per second
  segstream simulate --speed max --max-events 100000   # a bulk load, as fast as possible
  segstream simulate --scenario churn-wave --scenario-at 30
  segstream simulate --bad-rate 0.01 --truth ./truth   # 1% bad messages, labelled
  segstream simulate --rate 500 --duration 600         # at most 500 events/s for 10 min""",
    )
    p.add_argument(
        "--customers",
        type=_positive(int),
        default=2000,
        help="customers at the start; sign-ups add about 5%% a month (default 2000)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed: same seed and options, same messages except produced_at (default 0)",
    )
    p.add_argument(
        "--start",
        type=_utc_datetime,
        default=DEFAULT_START,
        help=f"simulated time at the start, ISO-8601 (default {DEFAULT_START:%Y-%m-%d}, "
        "far enough back for hours of demo at the default speed)",
    )
    p.add_argument(
        "--speed",
        type=speed,
        default=DEFAULT_SPEED,
        help="simulated seconds per real second, or 'max' for no pacing by the clock "
        f"(default {DEFAULT_SPEED:g}: one simulated day per second)",
    )
    p.add_argument(
        "--scenario",
        choices=list(SCENARIOS),
        default=DEFAULT_SCENARIO,
        help=f"drift scenario, see below (default {DEFAULT_SCENARIO})",
    )
    p.add_argument(
        "--scenario-at",
        type=days,
        metavar="DAYS",
        help="simulated days after --start at which the scenario begins "
        "(default: the scenario's own)",
    )
    p.add_argument(
        "--bad-rate",
        type=share,
        default=0.0,
        metavar="P",
        help="fraction of transactions messages that are bad (malformed, invalid or "
        "duplicate), each kind labelled with the quarantine reason it must get (default 0)",
    )
    p.add_argument(
        "--truth",
        type=Path,
        metavar="DIR",
        help="write ground truth here on exit: customers.parquet (persona of each "
        "customer), scenario.parquet (shift times), bad_messages.parquet (labels)",
    )
    p.add_argument(
        "--rate",
        type=_positive(float),
        help="at most this many transactions messages per second, averaged from the start "
        "(default: no cap)",
    )
    p.add_argument(
        "--max-events",
        type=_positive(int),
        help="stop after this many transactions messages (profiles not counted)",
    )
    p.add_argument("--duration", type=_positive(float), help="stop after this many seconds")
    p.add_argument(
        "--workers",
        type=_positive(int),
        default=1,
        metavar="N",
        help="publish from N processes, each simulating its own share of the customers (default 1)",
    )


def cmd_simulate(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import timedelta

    from producers import simulate
    from producers.simulator import SimulatorOptions

    options = SimulatorOptions(
        customers=args.customers,
        seed=args.seed,
        start=args.start,
        scenario=args.scenario,
        scenario_start=None if args.scenario_at is None else timedelta(days=args.scenario_at),
        bad_rate=args.bad_rate,
    )
    limits = simulate.RunLimits(
        rate=args.rate, max_events=args.max_events, duration_s=args.duration
    )
    if args.workers > 1:
        simulate.run_workers(
            settings, options, limits, speed=args.speed, truth=args.truth, workers=args.workers
        )
    else:
        simulate.run(settings, options, limits, speed=args.speed, truth=args.truth)
    return 0
