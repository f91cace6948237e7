"""`segstream scores | drift | scheduler | verify | compact`, and `run_spark_job`, which runs
the Spark job of each of these commands (and of the model commands in `models.py`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from cli.commands import Add, _positive, _utc_datetime
from segstream.config import Settings, load_settings


def register(add: Add) -> None:
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
        "retrain, rescore, snapshot + drift and compact on intervals until Ctrl-C",
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
    p.add_argument(
        "--compact-every",
        type=_positive(float),
        metavar="S",
        help="seconds (default SEGSTREAM_SCHEDULE_COMPACT_S)",
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
    add(
        "compact",
        cmd_compact,
        "compact the lake's tables: small files and deletion vectors rewritten into few files",
        "segstream compact",
    )


def run_spark_job(settings: Settings, app: str, body: Callable[[Any], int]) -> int:
    """Runs `body(spark)` on the process's SparkSession, named `segstream-<app>`; failures
    reach `cli.main` as they are (ours are one line there)."""
    from pyspark.sql import SparkSession

    from segstream.spark_session import get_spark

    # Stop the session only if this command started it (not when called inside a process
    # that already has one, e.g. the tests).
    owned = SparkSession.getActiveSession() is None
    spark = get_spark(settings, f"segstream-{app}")
    try:
        return body(spark)
    finally:
        if owned:
            spark.stop()


def cmd_scores(settings: Settings, args: argparse.Namespace) -> int:
    from batch import rfm_scores

    def body(spark: Any) -> int:
        result = rfm_scores.run(spark, settings, as_of=args.as_of)
        print(
            f"RFM scores of {result.customers:,} customers as of {result.as_of:%Y-%m-%d %H:%M:%S}; "
            f"{result.updated:,} customer_segments rows updated"
        )
        return 0

    return run_spark_job(settings, "scores", body)


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

    return run_spark_job(settings, "drift", body)


def cmd_scheduler(settings: Settings, args: argparse.Namespace) -> int:
    from batch import scheduler

    overrides = {
        "schedule_retrain_s": args.retrain_every,
        "schedule_rescore_s": args.rescore_every,
        "schedule_snapshot_s": args.snapshot_every,
        "schedule_compact_s": args.compact_every,
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

    return run_spark_job(settings, "verify", body)


def cmd_compact(settings: Settings, args: argparse.Namespace) -> int:
    from batch import compact

    def body(spark: Any) -> int:
        results = compact.run(spark, settings)
        for c in results:
            if c.error is None:
                print(f"{c.table}: {c.files_removed} files into {c.files_added}")
            else:
                print(f"{c.table}: FAILED {c.error}")
        compact.check(results)
        return 0

    return run_spark_job(settings, "compact", body)
