"""Shared pieces of the benchmarks: isolated settings, the embedded broker, the stream as its
own process, a fixed segment model, synthetic Delta tables built with `spark.range`, Delta
history metrics and table printing.

Not a benchmark itself; every helper is deterministic for a given seed.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segstream.config import LOOPBACK, Settings, load_settings
from segstream.contracts.events import MONEY
from segstream.contracts.tables import CUSTOMER_RFM_SCHEMA, EVENTS_SCHEMA
from segstream.model import registry
from segstream.model.record import SegmentModel
from segstream.runtime import kafka_broker, topics
from segstream.runtime.processes import die_with_parent, free_port

# The synthetic shop's "now": every synthetic timestamp lies before it.
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
_DAY_S = 86_400


@contextmanager
def temp_root(prefix: str, keep: bool) -> Iterator[Path]:
    """A fresh temporary folder, deleted afterwards unless `keep`."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield root
    finally:
        if keep:
            print(f"(kept {root})")
        else:
            shutil.rmtree(root, ignore_errors=True)


def bench_settings(root: Path, **overrides: Any) -> Settings:
    """Settings isolated under `root` (lake, home) on free broker ports; jars stay shared."""
    values: dict[str, Any] = {
        "lake": root / "lake",
        "home": root / "home",
        "kafka_port": free_port(LOOPBACK),
        "kafka_controller_port": free_port(LOOPBACK),
    }
    values.update(overrides)
    return load_settings(**values)


@contextmanager
def embedded_broker(settings: Settings) -> Iterator[None]:
    """The embedded broker for the duration of the block; always stopped afterwards."""
    try:
        kafka_broker.start(settings)
        topics.ensure_topics(settings)
        yield
    finally:
        kafka_broker.stop(settings)


def fixed_model(as_of: datetime = AS_OF) -> SegmentModel:
    """A hand-made 4-segment model over recency, frequency, monetary (log1p, standardised).

    Scoring cost does not depend on the centroids, so a fixed record stands in for a trained
    one and keeps the benchmarks free of training time.
    """
    return SegmentModel(
        version=0,
        trained_at=as_of,
        as_of=as_of,
        rows=0,
        features=("recency_days", "frequency", "monetary"),
        transforms=("log1p", "log1p", "log1p"),
        mean=(3.5, 1.5, 5.5),
        std=(1.2, 0.6, 1.3),
        centroids=((-1.0, 1.0, 1.0), (1.0, -1.0, -1.0), (0.0, 0.0, 0.0), (-1.0, -1.0, 0.0)),
        segment_ids=(1, 2, 3, 4),
        segment_names=("Champions", "Lost", "Regulars", "New"),
        engine="sklearn",
    )


def promote_fixed_model(spark: SparkSession, settings: Settings) -> int:
    """Registers and promotes `fixed_model()` in the lake's `models` table; its version."""
    stored = registry.register(spark, settings, fixed_model())
    registry.promote(spark, settings, stored.version)
    return stored.version


def customer_id(col: str | Any) -> Any:
    return F.format_string("c%07d", F.col(col) if isinstance(col, str) else col)


def _hash(seed: int, *cols: Any) -> Any:
    """A non-negative deterministic 62-bit hash of `cols` (xxhash64 is stable across runs)."""
    return F.pmod(F.xxhash64(F.lit(seed), *cols), F.lit(1 << 62))


def _bits(h: Any, shift: int, modulo: int) -> Any:
    """An independent-looking number in [0, modulo) taken from the hash's bits."""
    return F.shiftright(h, shift) % modulo


def synthetic_rfm(spark: SparkSession, n: int, file_rows: int, seed: int = 0) -> DataFrame:
    """`n` customers c0000000.. as `customer_rfm` rows, in files of about `file_rows` rows
    sorted by customer id (the layout an OPTIMIZEd table has)."""
    files = max(1, -(-n // file_rows))
    h = _hash(seed, F.col("id"))
    as_of_s = int(AS_OF.timestamp())
    orders = (h % 20) + 1
    recency_s = _bits(h, 5, 365 * _DAY_S)
    tenure_s = recency_s + _bits(h, 30, 700 * _DAY_S)
    aov_cents = _bits(h, 45, 20_000) + 500
    gross = (orders * aov_cents / 100).cast(MONEY)
    returns = F.when(_bits(h, 59, 8) == 0, (gross / 5).cast(MONEY)).otherwise(F.lit(0).cast(MONEY))
    last = F.timestamp_seconds(F.lit(as_of_s) - recency_s)
    cols = {
        "customer_id": customer_id("id"),
        "first_purchase_at": F.timestamp_seconds(F.lit(as_of_s) - tenure_s),
        "last_purchase_at": last,
        "orders": orders,
        "gross_revenue": gross,
        "returns_amount": returns,
        "monetary": (gross - returns).cast(MONEY),
        "items": orders * (_bits(h, 58, 4) + 1),
        "last_event_at": last,
        "updated_at": F.lit(AS_OF).cast("timestamp"),
    }
    return (
        spark.range(0, n, 1, files)
        .select(*[cols[f.name].cast(f.dataType).alias(f.name) for f in CUSTOMER_RFM_SCHEMA.fields])
        .sortWithinPartitions("customer_id")
    )


def synthetic_events(
    spark: SparkSession,
    customers: int,
    per_customer: int,
    days: int = 60,
    seed: int = 1,
    partitions: int = 2,
) -> DataFrame:
    """About `per_customer` events for each of `customers` customers as `events` rows over
    the `days` before AS_OF, in event-time order (every customer has at least one).

    One row in twenty is a return; each event has one item.
    """
    total = customers * per_customer
    h = _hash(seed, F.col("id"))
    who = F.when(F.col("id") < customers, F.col("id")).otherwise(_bits(h, 33, customers))
    span_s = days * _DAY_S
    start_s = int(AS_OF.timestamp()) - span_s
    event_time = F.timestamp_seconds(F.lit(start_s) + F.floor(F.col("id") * span_s / total))
    return _events(spark.range(0, total, 1, partitions), who, event_time, seed)


def events_for(
    spark: SparkSession, customers: list[int], per_customer: int, batch: int, seed: int = 2
) -> DataFrame:
    """`per_customer` events for each listed customer number, all in the day after AS_OF +
    `batch` days (ids unique per batch)."""
    who = spark.createDataFrame([(c,) for c in customers], "who long")
    frame = who.crossJoin(spark.range(per_customer).withColumnRenamed("id", "n")).select(
        "who", (F.lit(batch) * (1 << 40) + F.col("who") * per_customer + F.col("n")).alias("id")
    )
    h = _hash(seed, F.col("id"))
    start_s = int(AS_OF.timestamp()) + batch * _DAY_S
    event_time = F.timestamp_seconds(F.lit(start_s) + _bits(h, 40, _DAY_S))
    return _events(frame, F.col("who"), event_time, seed)


def _events(frame: DataFrame, who: Any, event_time: Any, seed: int) -> DataFrame:
    """`events` rows, one per row of `frame` (which has a unique long `id`)."""
    h = _hash(seed, F.col("id"))
    quantity = _bits(h, 5, 4) + 1
    unit_price = ((_bits(h, 7, 20_000) + 50) / 100).cast(MONEY)
    is_return = h % 20 == 0
    item = F.struct(
        F.format_string("sku-%04d", _bits(h, 22, 500)).alias("sku"),
        F.element_at(
            F.array(*[F.lit(c) for c in ("grocery", "apparel", "home", "toys")]),
            (_bits(h, 31, 4) + 1).cast("int"),
        ).alias("category"),
        quantity.cast("long").alias("quantity"),
        unit_price.alias("unit_price"),
    )
    cols = {
        "event_id": F.format_string("bench-%d", F.col("id")),
        "event_type": F.when(is_return, F.lit("return")).otherwise(F.lit("purchase")),
        "customer_id": customer_id(who),
        "order_id": F.format_string("o-%d", F.col("id")),
        "event_time": event_time,
        "event_date": F.to_date(event_time),
        "amount": (unit_price * quantity).cast(MONEY),
        "items": F.array(item),
        "item_count": quantity,
        "currency": F.lit("USD"),
        "channel": F.lit("web"),
        "country": F.lit(None).cast("string"),
        "produced_at": event_time,
        "kafka_topic": F.lit("transactions"),
        "kafka_partition": (F.col("id") % 2).cast("int"),
        "kafka_offset": F.col("id"),
        "batch_id": F.lit(0).cast("long"),
        "ingested_at": F.lit(AS_OF).cast("timestamp"),
    }
    return frame.select(
        *[cols[f.name].cast(f.dataType).alias(f.name) for f in EVENTS_SCHEMA.fields]
    )


def history(spark: SparkSession, path: Path) -> list[dict[str, Any]]:
    """Delta history of a table, oldest first: version, operation, operationMetrics (as
    numbers where they are numbers)."""
    rows = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").orderBy("version").collect()
    out = []
    for r in rows:
        metrics: dict[str, float] = {}
        for key, value in (r["operationMetrics"] or {}).items():
            try:
                metrics[key] = float(value)
            except (TypeError, ValueError):
                continue
        out.append({"version": int(r["version"]), "operation": r["operation"], **metrics})
    return out


def files_under(path: Path) -> dict[str, int]:
    """Every file below `path` (relative name -> bytes)."""
    return {str(p.relative_to(path)): p.stat().st_size for p in path.rglob("*") if p.is_file()}


class LoadSampler:
    """Samples the machine's 1-minute load average in the background, so that a result can
    say how busy the (shared) machine was while it was measured."""

    def __init__(self, interval_s: float = 5.0) -> None:
        self._interval = interval_s
        self._samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._samples.append((time.monotonic(), os.getloadavg()[0]))
            self._stop.wait(self._interval)

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def mean(self, since: float = float("-inf"), until: float = float("inf")) -> float:
        """Mean load between two time.monotonic() readings (all samples by default)."""
        values = [load for at, load in self._samples if since <= at <= until]
        return statistics.fmean(values) if values else float("nan")

    def peak(self, since: float = float("-inf"), until: float = float("inf")) -> float:
        values = [load for at, load in self._samples if since <= at <= until]
        return max(values, default=float("nan"))


def _tree(root: int) -> list[int]:
    """`root` and every live descendant of it."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, pending = [], [root]
    while pending:
        pid = pending.pop()
        out.append(pid)
        pending += parents.get(pid, [])
    return out


def descendant_running(root: int, argv_part: str) -> int | None:
    """The first live descendant of `root` whose command line contains `argv_part`."""
    for pid in _tree(root)[1:]:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv_part.encode() in argv:
            return pid
    return None


def cpu_seconds(root: int, tree: bool = True) -> float:
    """CPU time (user + system) used so far by `root` and, with `tree`, its live descendants
    (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in _tree(root) if tree else [root]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; numbers right-aligned, floats with 2 decimals, ints with commas."""

    def cell(value: object) -> str:
        if isinstance(value, bool) or value is None:
            return "-" if value is None else str(value)
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:,.2f}"
        return str(value)

    body = [[cell(v) for v in row] for row in rows]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows) and bool(rows)
        for i in range(len(headers))
    ]
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---:" if num else "---" for num in numeric) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def verdict(value: float, target: float, smaller_is_better: bool = True) -> str:
    met = value <= target if smaller_is_better else value >= target
    return "met" if met else "MISSED"


_STREAM_STOP_S = 180.0


def stream_cmd(once: bool) -> list[str]:
    cmd = [sys.executable, "-m", "cli.main", "stream", "--log-level", "INFO"]
    return [*cmd, "--once"] if once else cmd


def start_stream(settings: Settings, once: bool, log_file: Path) -> subprocess.Popen[bytes]:
    with log_file.open("ab") as out:
        return subprocess.Popen(
            stream_cmd(once),
            env=settings.to_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
            start_new_session=True,
        )


def stop_stream(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM (the job stops between batches and flushes its metrics); SIGKILL to the
    process group if it does not exit in time."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(_STREAM_STOP_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    return proc.returncode


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
