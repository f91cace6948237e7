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
from typing import Any

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
    simulate.run(settings, options, limits, speed=args.speed, truth=args.truth)
    return 0


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from producers import replay
    from producers.orders_csv import ReadOptions, ReplayError

    try:
        options = ReadOptions(
            date_format=args.date_format,
            timezone=ZoneInfo(args.timezone),
            currency=args.currency or ("GBP" if args.format == "online-retail" else "USD"),
        )
        with args.file.open(newline="", encoding=args.encoding) as lines:
            if args.format == "online-retail":
                result = replay.read_online_retail(lines, options)
            elif args.map is None:
                raise ReplayError("--format generic needs --map")
            else:
                result = replay.read_generic(lines, replay.parse_mapping(args.map), options)
    except (ReplayError, ZoneInfoNotFoundError, OSError, UnicodeDecodeError) as exc:
        print(f"segstream replay: {exc}", file=sys.stderr)
        return 2
    replay.log_problems(result.report)
    events = result.events
    if args.rebase_to_now:
        events = replay.rebase(events, datetime.now(UTC))
    if not args.dry_run:
        from producers import replay_publish

        replay_publish.run(settings, events, speedup=args.speedup, rate=args.rate)
    log.info("%s: %s", args.file, replay.summary(result.report))
    return 0


def cmd_stream(settings: Settings, args: argparse.Namespace) -> int:
    from streaming import job

    job.run(settings, once=args.once)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from segstream import demo

    return demo.run(settings, rate=args.rate, keep_broker=args.keep_broker)


class _BatchFailure(Exception):
    """A batch command cannot do its job (missing data, no model, unknown version)."""


def _batch(settings: Settings, app: str, body: Callable[[Any], int]) -> int:
    """Runs `body(spark)` for a batch command; a known failure is one line, exit 1."""
    from pyspark.sql import SparkSession

    from batch.lake import MissingDataError
    from batch.rescore import NoModelError
    from segstream.model.registry import RegistryError
    from segstream.spark_session import get_spark

    # Stop the session only if this command started it (not when called inside a process
    # that already has one, e.g. the tests).
    owned = SparkSession.getActiveSession() is None
    spark = get_spark(settings, f"segstream-{app}")
    try:
        return body(spark)
    except (MissingDataError, NoModelError, RegistryError, _BatchFailure) as exc:
        print(f"segstream {app}: {exc}", file=sys.stderr)
        return 1
    finally:
        if owned:
            spark.stop()


def cmd_retrain(settings: Settings, args: argparse.Namespace) -> int:
    from batch import models, rescore, retrain

    options = retrain.RetrainOptions(
        k=args.k, engine=args.engine, promote=not args.no_promote, as_of=args.as_of
    )

    def body(spark: Any) -> int:
        model = retrain.run(spark, settings, options)
        print(models.profile(model))
        if args.rescore and model.status == "promoted":
            result = rescore.run(spark, settings, model=model, cause="retrain")
            print(f"rescored {result.customers:,} customers: {result.changes:,} segment changes")
        return 0

    return _batch(settings, "retrain", body)


def cmd_models(settings: Settings, args: argparse.Namespace) -> int:
    from batch import models
    from segstream.model import registry

    def body(spark: Any) -> int:
        if args.action == "list":
            print(models.listing(registry.list_models(spark, settings)))
        elif args.action == "show":
            print(models.profile(registry.get(spark, settings, _version(args))))
        elif args.action == "promote":
            registry.promote(spark, settings, _version(args))
            print(f"promoted model v{args.version}")
        else:
            print(f"rolled back: promoted model v{models.rollback(spark, settings)}")
        return 0

    return _batch(settings, "models", body)


def _version(args: argparse.Namespace) -> int:
    if args.version is None:
        raise _BatchFailure(f"models {args.action} needs a VERSION")
    return int(args.version)


def cmd_rescore(settings: Settings, args: argparse.Namespace) -> int:
    from batch import rescore

    def body(spark: Any) -> int:
        result = rescore.run(spark, settings, as_of=args.as_of, cause=args.cause)
        print(
            f"rescored {result.customers:,} customers with model v{result.model_version} as of "
            f"{result.as_of:%Y-%m-%d %H:%M:%S}: {result.changes:,} segment changes "
            f"in {result.seconds:.1f} s"
        )
        return 0

    return _batch(settings, "rescore", body)


def cmd_scores(settings: Settings, args: argparse.Namespace) -> int:
    from batch import rfm_scores

    def body(spark: Any) -> int:
        result = rfm_scores.run(spark, settings, as_of=args.as_of)
        print(
            f"RFM scores of {result.customers:,} customers as of {result.as_of:%Y-%m-%d %H:%M:%S}; "
            f"{result.updated:,} customer_segments rows updated"
        )
        return 0

    return _batch(settings, "scores", body)


def cmd_drift(settings: Settings, args: argparse.Namespace) -> int:
    from batch import drift_job

    def body(spark: Any) -> int:
        report = drift_job.run(
            spark,
            settings,
            take_snapshot=not args.no_snapshot,
            retrain_on_drift=args.retrain_on_drift,
        )
        for m in report.measurements:
            value = "n/a" if m.value is None else f"{m.value:.4f}"
            print(f"{m.metric:<18} {m.subject:<16} {value:>8}  {m.level}")
        if report.retrained is not None:
            print(f"drift alert: retrained and promoted model v{report.retrained.version}")
        return 0

    return _batch(settings, "drift", body)


def cmd_scheduler(settings: Settings, args: argparse.Namespace) -> int:
    from batch import scheduler

    overrides = {
        "schedule_retrain_s": args.retrain_every,
        "schedule_rescore_s": args.rescore_every,
        "schedule_snapshot_s": args.snapshot_every,
        "schedule_min_customers": args.min_customers,
    }
    given = {k: v for k, v in overrides.items() if v is not None}
    if given:
        settings = load_settings(**{**settings.model_dump(), **given})
    scheduler.run(settings, once=args.once, retrain_on_drift=args.retrain_on_drift)
    return 0


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    from batch import verify

    def body(spark: Any) -> int:
        result = verify.run(spark, settings, show=args.show)
        if result.ok:
            print(f"customer_rfm matches a recompute from events: {result.customers:,} customers")
            return 0
        print(
            f"customer_rfm differs from a recompute from events for {result.differing:,} of "
            f"{result.customers:,} customers; first {len(result.sample)}:"
        )
        for d in result.sample:
            parts = [
                f"{c}: expected {d.expected[c]!r}, found {d.actual[c]!r}" if c in d.expected else c
                for c in d.columns
            ]
            print(f"  {d.customer_id}: " + "; ".join(parts))
        return 1

    return _batch(settings, "verify", body)


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

    p = add(
        "simulate",
        cmd_simulate,
        "publish a simulated customer population's purchases, returns and profiles to Kafka",
        "segstream simulate",
    )
    scenarios = "\n".join(
        f"  {s.name:<22} {s.summary}"
        + (f" (starts day {s.starts_after.days})" if s.shifts else "")
        + (" [default]" if s.name == DEFAULT_SCENARIO else "")
        for s in SCENARIOS.values()
    )
    p.epilog = f"""\
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
  segstream simulate --rate 500 --duration 600         # at most 500 events/s for 10 min

{_EPILOG}"""
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
    p = add(
        "replay",
        cmd_replay,
        "publish a real transaction export (CSV) to Kafka as purchase and return events",
        "segstream replay data.csv",
    )
    p.epilog = f"""\
Rows of one order become one event; event ids are hashes of the order's identity, so a
second replay of the same file is dropped by the stream as duplicates. Unreadable rows
are logged with their line number and skipped, with their whole order; a summary of rows
read, orders, returns and rows skipped by reason ends the run.

formats:
  online-retail  UCI Online Retail (I or II): InvoiceNo, StockCode, Description,
                 Quantity, InvoiceDate, UnitPrice, CustomerID, Country. Invoices starting
                 with C are cancellations, replayed as returns; rows without CustomerID
                 are skipped and counted; "17850.0" is customer 17850.
  generic        any CSV, columns named by --map; amount, or quantity x unit_price.

examples:
  segstream replay online_retail.csv --date-format "%m/%d/%Y %H:%M" --dry-run
  segstream replay online_retail.csv --date-format "%m/%d/%Y %H:%M" \\
      --timezone Europe/London --rebase-to-now --speedup 86400 --rate 1000
  segstream replay sales.csv --format generic \\
      --map customer_id=cust,order_id=order,event_time=ts,quantity=qty,unit_price=price
  segstream replay payments.csv --format generic --currency EUR \\
      --map customer_id=client,order_id=ref,event_time=paid_at,amount=total

{_EPILOG}"""
    p.add_argument("file", type=Path, metavar="FILE", help="the CSV export to replay")
    p.add_argument(
        "--format",
        choices=["online-retail", "generic"],
        default="online-retail",
        help="layout of the file, see below (default online-retail)",
    )
    p.add_argument(
        "--map",
        metavar="FIELD=COL,...",
        help="generic format: columns of customer_id, order_id, event_time and amount (or "
        "quantity and unit_price); optional sku, category, country, event_type "
        "(purchase/return; without it a negative amount is a return)",
    )
    p.add_argument(
        "--date-format",
        metavar="FMT",
        help="strptime format of the timestamps, e.g. '%%m/%%d/%%Y %%H:%%M' for the UCI "
        "export (default ISO-8601)",
    )
    p.add_argument(
        "--timezone",
        default="UTC",
        help="zone of timestamps without an offset, e.g. Europe/London (default UTC)",
    )
    p.add_argument(
        "--currency",
        help="ISO-4217 currency of the amounts (default GBP for online-retail, else USD)",
    )
    p.add_argument(
        "--encoding",
        default="utf-8-sig",
        help="text encoding of the file, e.g. latin-1 (default utf-8, with or without BOM)",
    )
    p.add_argument(
        "--rebase-to-now",
        action="store_true",
        help="shift all times by whole weeks so the newest event falls in the past week "
        "(default: keep the file's timestamps)",
    )
    p.add_argument(
        "--speedup",
        type=_positive(float),
        metavar="X",
        help="keep the gaps between events, divided by X (86400: a day per second); "
        "default: no gaps",
    )
    p.add_argument(
        "--rate",
        type=_positive(float),
        help="at most this many events per second, averaged from the start (default: no cap)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="read and report only, publish nothing (no broker needed)",
    )
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
    p = add(
        "retrain",
        cmd_retrain,
        "train a K-Means model on customer_rfm, keep segment ids stable, register and promote it",
        "segstream retrain --engine auto --rescore",
    )
    p.add_argument(
        "--k", type=_positive(int), help="force k (default: chosen from the elbow and silhouette)"
    )
    p.add_argument(
        "--engine",
        choices=["auto", "sklearn", "spark"],
        help="training engine (default SEGSTREAM_RETRAIN_ENGINE, auto: by customer count)",
    )
    p.add_argument("--no-promote", action="store_true", help="register as a candidate only")
    p.add_argument(
        "--as-of",
        type=_utc_datetime,
        help="measure recency at this time, ISO-8601 (default: newest event time in the data)",
    )
    p.add_argument("--rescore", action="store_true", help="rescore everyone with the new model")
    p = add(
        "models",
        cmd_models,
        "list, show, promote or roll back model versions",
        "segstream models show 3",
    )
    p.add_argument("action", choices=["list", "show", "promote", "rollback"])
    p.add_argument("version", nargs="?", type=int, help="model version (show, promote)")
    p = add(
        "rescore",
        cmd_rescore,
        "re-assign every customer with the promoted model at the current as-of",
        "segstream rescore",
    )
    p.add_argument("--as-of", type=_utc_datetime, help="ISO-8601 (default: newest event time)")
    p.add_argument(
        "--cause",
        choices=["rescore", "retrain"],
        help="history cause of every change (default: retrain if the customer's stored "
        "segment came from another model version, else rescore)",
    )
    p = add(
        "scores",
        cmd_scores,
        "classic RFM quintile scores, RFM cell, rule segment and frequency band",
        "segstream scores",
    )
    p.add_argument("--as-of", type=_utc_datetime, help="ISO-8601 (default: newest event time)")
    p = add(
        "drift",
        cmd_drift,
        "snapshot the segments and measure drift (PSI, centroid shift, migration)",
        "segstream drift --retrain-on-drift",
    )
    p.add_argument("--no-snapshot", action="store_true", help="use the latest snapshot instead")
    p.add_argument("--retrain-on-drift", action="store_true", help="retrain when an alert fires")
    p = add(
        "scheduler",
        cmd_scheduler,
        "retrain, rescore and snapshot + drift on intervals until Ctrl-C",
        "segstream scheduler --retrain-every 3600 --rescore-every 600 --snapshot-every 300",
    )
    p.add_argument(
        "--retrain-every",
        type=_positive(float),
        metavar="S",
        help="seconds (default SEGSTREAM_SCHEDULE_RETRAIN_S)",
    )
    p.add_argument(
        "--rescore-every",
        type=_positive(float),
        metavar="S",
        help="seconds (default SEGSTREAM_SCHEDULE_RESCORE_S)",
    )
    p.add_argument(
        "--snapshot-every",
        type=_positive(float),
        metavar="S",
        help="seconds (default SEGSTREAM_SCHEDULE_SNAPSHOT_S)",
    )
    p.add_argument("--min-customers", type=_positive(int), help="customers before the first model")
    p.add_argument("--once", action="store_true", help="run what is due once, then exit")
    p.add_argument("--retrain-on-drift", action="store_true", help="retrain when drift alerts")
    p = add(
        "verify",
        cmd_verify,
        "recompute RFM from events and compare with customer_rfm (exit 1 on a difference)",
        "segstream verify --show 50",
    )
    p.add_argument("--show", type=_positive(int), help="differing customers listed (default 20)")
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
