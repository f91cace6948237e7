"""Retraining at scale, on synthetic customers (segstream/testing.py).

    .venv/bin/python -m bench.retrain [--sizes 100000 1000000]

For each size: write `customer_rfm`, then train with scikit-learn and with Spark ML over the
same k range (retrain.train: read, features, every k with restarts, silhouette, identity),
and compare their inertia at the same k. (Re-scoring is the stream's: bench/hot_path.py.)
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from batch import retrain
from segstream import testing
from segstream.config import Settings, load_settings
from segstream.contracts import tables
from segstream.spark_session import get_spark


@dataclass(frozen=True)
class TrainRow:
    size: int
    engine: str
    seconds: float
    fit_seconds: float
    k: int
    knee: int | None
    inertia_at_k: dict[int, float]


def bench_settings(root: Path, **extra: object) -> Settings:
    return load_settings(lake=root / "lake", home=root / "home", **extra)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--k-min", type=int, default=2)
    parser.add_argument("--k-max", type=int, default=10)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--driver-memory", default="4g")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    root = Path(tempfile.mkdtemp(prefix="segstream-bench-retrain-"))
    common = {
        "retrain_k_min": args.k_min,
        "retrain_k_max": args.k_max,
        "retrain_restarts": args.restarts,
        "spark_driver_memory": args.driver_memory,
    }
    spark = get_spark(bench_settings(root, **common), "segstream-bench-retrain")
    rows: list[TrainRow] = []
    for size in sorted(set(args.sizes)):
        settings = bench_settings(root / f"n{size}", **common)
        frame = testing.rfm_frame(size, seed=size)
        started = time.perf_counter()
        testing.write_rfm(spark, frame, str(settings.table_path(tables.CUSTOMER_RFM)))
        print(f"{size:>9,} customers written in {time.perf_counter() - started:.1f} s", flush=True)
        del frame
        trained: dict[str, retrain.Trained] = {}
        if size in args.sizes:
            for engine in ("sklearn", "spark"):
                started = time.perf_counter()
                t = retrain.train(spark, settings, retrain.RetrainOptions(engine=engine))
                elapsed = time.perf_counter() - started
                trained[engine] = t
                rows.append(
                    TrainRow(
                        size,
                        engine,
                        elapsed,
                        t.fit.seconds,
                        t.fit.choice.k,
                        t.fit.choice.knee,
                        {f.k: f.inertia for f in t.fit.fits},
                    )
                )
                print(f"  {engine:<7} retrain {elapsed:7.1f} s, k={t.fit.choice.k}", flush=True)
    spark.stop()

    print()
    print(
        f"retrain: k in {args.k_min}..{args.k_max}, {args.restarts} restarts per k, "
        "silhouette on a 4,000-row sample"
    )
    print(
        f"{'customers':>10}  {'engine':<7}  {'total s':>8}  {'fit s':>7}  {'k':>2}  {'knee':>4}  "
        f"{'inertia@k':>12}  {'spark/sklearn inertia @k':>24}"
    )
    for r in rows:
        other = next((o for o in rows if o.size == r.size and o.engine == "sklearn"), None)
        ratio = ""
        if other is not None and r.engine == "spark":
            k = other.k
            ratio = f"{r.inertia_at_k[k] / other.inertia_at_k[k]:.4f} (k={k})"
        print(
            f"{r.size:>10,}  {r.engine:<7}  {r.seconds:>8.1f}  {r.fit_seconds:>7.1f}  {r.k:>2}  "
            f"{'-' if r.knee is None else r.knee:>4}  {r.inertia_at_k[r.k]:>12,.0f}  {ratio:>24}"
        )


if __name__ == "__main__":
    main()
