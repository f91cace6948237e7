"""What `streaming.transforms.parse` costs per message, against its own building blocks.

    .venv/bin/python -m bench.parse_cost [--events 50000] [--bad-share 0.01]

N contract-valid messages (producers.generator, Event.encode) plus a share of bad ones (one
of every producers.bad_events kind, round robin), cached as Kafka-shaped rows in 2
partitions, each step written to Spark's `noop` sink (the second of two runs is timed).
Baseline, same run: the current `transforms.parse`.

Steps: the cached rows alone; `from_json` alone; `try_parse_json` alone; `transforms.parse`;
`parse` + `dedupe_key` + `valid_events`; and two candidate rewrites of parse, built from its
own source at run time: (1) the JSON variant `doc` computed once in a projection of its own
instead of an expression inlined into every rule (Spark does not share it across the
branches of the CASE WHEN); (2) that, plus reason and detail taken from one CASE WHEN of
structs instead of two chains over the same conditions. Each candidate's output is checked
to equal `transforms.parse`'s on every row; both are skipped once parse changes shape.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import os
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bench.batch_cost import KAFKA_SCHEMA
from bench.harness import bench_settings, markdown_table, temp_root
from producers.bad_events import BadKind, make_bad
from producers.generator import GeneratorOptions, generate
from segstream.contracts.events import EVENT_SCHEMA
from streaming import transforms

_INLINE = "    doc = F.try_parse_json(text)\n"
_SELECT = 'return raw.withColumn("e", F.from_json(text, EVENT_SCHEMA)).select('
_REASON = "    reason, detail = _reason(rules)\n"
# The rules as one CASE WHEN of (reason, detail) structs, in a projection of its own.
_ONE_CHAIN = """    (failed, code, message), rest = rules[0], rules[1:]
    chain = F.when(failed, F.struct(F.lit(code).alias("r"), message.alias("d")))
    for failed, code, message in rest:
        chain = chain.when(failed, F.struct(F.lit(code).alias("r"), message.alias("d")))
    reason, detail = F.col("_rd.r"), F.col("_rd.d")
"""


def variant_parse(one_chain: bool) -> Callable[[DataFrame], DataFrame] | None:
    """transforms.parse with the JSON variant computed once in its own projection (and, with
    `one_chain`, reason and detail from one rule chain); None if parse changed shape."""
    source = inspect.getsource(transforms.parse)
    if any(part not in source for part in (_INLINE, _SELECT, _REASON)):
        return None
    projections = '.withColumn("_doc", F.try_parse_json(text))'
    if one_chain:
        source = source.replace(_REASON, _ONE_CHAIN)
        projections += '.withColumn("_rd", chain)'
    source = source.replace(_INLINE, '    doc = F.col("_doc")\n').replace(
        _SELECT, f'return raw.withColumn("e", F.from_json(text, EVENT_SCHEMA)){projections}.select('
    )
    namespace: dict[str, Any] = dict(vars(transforms))
    exec(source, namespace)
    parse: Callable[[DataFrame], DataFrame] = namespace["parse"]
    return parse


def messages(events: int, bad_share: float) -> tuple[list[tuple[Any, ...]], int]:
    """Kafka-shaped rows and how many of them are bad."""
    now = datetime.now(UTC)
    every = round(1 / bad_share) if bad_share > 0 else 0
    options = GeneratorOptions(customers=50_000, start=datetime(2026, 1, 1, tzinfo=UTC))
    rows: list[tuple[Any, ...]] = []
    kinds = [k for k in BadKind if k is not BadKind.DUPLICATE]
    rng = random.Random(0)
    bad = 0
    for i, event in enumerate(itertools.islice(generate(options), events)):
        if every and i % every == 0:
            message = make_bad(kinds[bad % len(kinds)], rng, event, now)
            key, value = message.key, message.value
            bad += 1
        else:
            key, value = event.key(), event.encode(now)
        rows.append((key, value, "transactions", i % 2, i, now, 0))
    return rows, bad


def rate(frame: DataFrame, rows: int) -> float:
    seconds = 0.0
    for _ in range(2):
        started = time.perf_counter()
        frame.write.format("noop").mode("overwrite").save()
        seconds = time.perf_counter() - started
    return rows / seconds


def same_rows(a: DataFrame, b: DataFrame) -> bool:
    a, b = a.drop("e"), b.drop("e")
    return a.exceptAll(b).count() == 0 and b.exceptAll(a).count() == 0


def run(spark: SparkSession, args: Any) -> None:
    data, bad = messages(args.events, args.bad_share)
    raw = spark.createDataFrame(data, KAFKA_SCHEMA).repartition(2).cache()
    n = raw.count()
    text = F.col("value").cast("string")
    steps: list[tuple[str, DataFrame]] = [
        ("cached Kafka rows only", raw),
        ("from_json alone", raw.select(F.from_json(text, EVENT_SCHEMA).alias("e"))),
        ("try_parse_json alone", raw.select(F.try_parse_json(text).alias("v"))),
        ("transforms.parse (baseline)", transforms.parse(raw)),
        (
            "parse + dedupe_key + valid_events",
            transforms.valid_events(transforms.dedupe_key(transforms.parse(raw)), 0),
        ),
    ]
    candidates = {
        "parse, JSON variant computed once": variant_parse(one_chain=False),
        "parse, variant once + reason/detail from one rule chain": variant_parse(one_chain=True),
    }
    skipped = [label for label, fn in candidates.items() if fn is None]
    for label, fn in candidates.items():
        if fn is not None:
            if not same_rows(transforms.parse(raw), fn(raw)):
                raise RuntimeError(f"{label}: output differs from transforms.parse")
            steps.append((f"{label} (same output, checked)", fn(raw)))
    rates = []
    for label, frame in steps:
        rates.append((label, rate(frame, n)))
        print(f"  {label}: {rates[-1][1]:,.0f} rows/s", flush=True)
    base = rates[3][1]
    print()
    print(f"{n:,} messages ({bad:,} bad), 2 partitions, noop sink, second of two runs")
    print(
        markdown_table(
            ["step", "rows/s", "µs per row (2 cores)", "vs transforms.parse"],
            [(label, r, 2e6 / r, f"{r / base:.2f}x") for label, r in rates],
        )
    )
    if skipped:
        print(f"(transforms.parse changed shape; skipped: {', '.join(skipped)})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--bad-share", type=float, default=0.01)
    args = parser.parse_args()
    started = time.monotonic()
    from segstream.spark_session import get_spark

    with temp_root("segstream-bench-parse-", keep=False) as root:
        spark = get_spark(bench_settings(root), "segstream-bench-parse")
        try:
            run(spark, args)
        finally:
            spark.stop()
    print(f"\ntotal {time.monotonic() - started:.0f} s; machine: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
