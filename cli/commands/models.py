"""`segstream retrain | models | rescore`: the segment model's life cycle: train and register
a model, list, show, promote or roll back versions, re-assign customers with the promoted one."""

from __future__ import annotations

import argparse
from typing import Any

from cli.commands import Add, _positive, _utc_datetime
from cli.commands.jobs import run_spark_job
from segstream.config import Settings
from segstream.errors import UsageError


def register(add: Add) -> None:
    p = add(
        "retrain",
        cmd_retrain,
        "train a K-Means model on customer_rfm, keep segment ids stable, register and promote it",
        "segstream retrain --engine auto",
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
        "ask the stream to re-assign every customer at the current as-of (aging)",
        "segstream rescore",
    )
    p.add_argument("--as-of", type=_utc_datetime, help="ISO-8601 (default: newest event time)")


def cmd_retrain(settings: Settings, args: argparse.Namespace) -> int:
    from batch import model_report, retrain

    options = retrain.RetrainOptions(
        k=args.k, engine=args.engine, promote=not args.no_promote, as_of=args.as_of
    )

    def body(spark: Any) -> int:
        model = retrain.run(spark, settings, options)
        print(model_report.profile(model))
        if model.status == "promoted":
            print("the running stream switches to it and re-scores every customer")
        return 0

    return run_spark_job(settings, "retrain", body)


def cmd_models(settings: Settings, args: argparse.Namespace) -> int:
    from batch import model_report
    from segstream.model import registry

    # Checked before Spark starts: a missing VERSION is a usage error, known at once.
    if args.action in ("show", "promote") and args.version is None:
        raise UsageError(f"models {args.action} needs a VERSION")
    version = int(args.version) if args.version is not None else 0

    def body(spark: Any) -> int:
        if args.action == "list":
            print(model_report.listing(registry.list_models(spark, settings)))
        elif args.action == "show":
            print(model_report.profile(registry.get(spark, settings, version)))
        elif args.action == "promote":
            registry.promote(spark, settings, version)
            print(f"promoted model v{version}")
        else:
            print(f"rolled back: promoted model v{registry.rollback(spark, settings)}")
        return 0

    return run_spark_job(settings, "models", body)


def cmd_rescore(settings: Settings, args: argparse.Namespace) -> int:
    from batch import rescore

    def body(spark: Any) -> int:
        result = rescore.run(spark, settings, as_of=args.as_of)
        print(
            f"asked the stream to re-score {result.customers:,} customers (model "
            f"v{result.model_version}) as of {result.as_of:%Y-%m-%d %H:%M:%S} "
            f"in {result.seconds:.1f} s"
        )
        return 0

    return run_spark_job(settings, "rescore", body)
