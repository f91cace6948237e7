"""A model promotion under load: how soon the new model scores, and how soon everyone holds
a segment of it, beside the feed's and `customer_segments`' latency in the same window.

    .venv/bin/python -m bench.promotion [--customers 100000] [--rates 1000 5000]
        [--duration 60] [--promote-after 10] [--keep]

One embedded broker; the stream (`segstream stream`: hot part and lake part) runs as its own
processes with a fixed model promoted; the producer (librdkafka, this process) shares the two
cores with them. First one purchase for each of --customers customers, drained (the state
then holds them all). Then, for each rate, --duration s of purchases paced at that rate;
--promote-after s into it a new model version is registered and promoted (one commit), and:

- promotion -> first record of the new version: the Kafka time of the first
  `customer-scores` record with that version, minus the promotion's commit; and how many
  batches later the new model's first batch started than the batch that was running at the
  commit (the offset log's batch timestamps, `segstream-models.json`);
- promotion -> everyone re-scored: until every customer has a record of the new version
  (the `retrain` requests the stream publishes for everyone it holds, and the purchases);
- the feed's latency per event of the rate (first `customer-scores` record that counts it),
  p50 / p95, and `customer_segments`' (the `customer-tables` batches' p50 / p95 from
  `stream_metrics`, median and max), over the same window.

Baseline: the same latencies over the rate's first --promote-after s, before the promotion.
Targets (issue): the first record within two batches; everyone re-scored within 60 s at
100,000 customers; feed p50 <= 2 s and `customer_segments` p50 <= 5 s at 2,000 events/s.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from bench.harness import (
    bench_settings,
    embedded_broker,
    fixed_model,
    markdown_table,
    promote_fixed_model,
    start_stream,
    stop_stream,
    tail,
    temp_root,
    verdict,
)
from bench.hot_path import Load, ScoresLog, feed_latencies, lake_latency, pct
from segstream.config import Settings
from segstream.contracts.stream_records import STATE_QUERY
from segstream.model import registry
from segstream.spark_session import get_spark
from streaming.model_log import LOG_FILE


class Versions:
    """Per customer, the model versions of its `customer-scores` records with their Kafka
    times, read incrementally from the beginning."""

    def __init__(self, settings: Settings) -> None:
        self._consumer = KafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            group_id=None,
            **settings.kafka_client_options(),
        )
        topic = settings.topic_customer_scores
        parts = [TopicPartition(topic, p) for p in self._consumer.partitions_for_topic(topic) or ()]
        self._consumer.assign(parts)
        self._consumer.seek_to_beginning(*parts)
        self._parts = parts
        self.first: dict[int, float] = {}
        self.customers: dict[int, set[str]] = defaultdict(set)

    def read(self) -> None:
        ends = self._consumer.end_offsets(self._parts)
        while any(self._consumer.position(tp) < end for tp, end in ends.items()):
            for records in self._consumer.poll(timeout_ms=1000, max_records=50_000).values():
                for r in records:
                    body = json.loads(r.value)
                    version = body["model_version"]
                    if version is None:
                        continue
                    at = r.timestamp / 1000
                    self.first[version] = min(self.first.get(version, at), at)
                    self.customers[version].add(body["customer_id"])

    def close(self) -> None:
        self._consumer.close()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, log: Path) -> float:
    """Polls `predicate` every 0.5 s; returns when it held (epoch s)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not within {timeout:.0f} s:\n{tail(log)}")
        time.sleep(0.5)
    return time.time()


def batch_lag(checkpoint: Path, promoted_ms: float, version: int) -> int:
    """How many batches after the one running at the promotion the new model's first batch
    is."""
    running = -1
    for path in (checkpoint / "offsets").iterdir():
        if path.name.isdigit():
            meta = json.loads(path.read_text().splitlines()[1])
            if meta["batchTimestampMs"] <= promoted_ms:
                running = max(running, int(path.name))
    steps = json.loads((checkpoint / LOG_FILE).read_text())["steps"]
    first = next(b for b, v in steps if v == version)
    return int(first) - running


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rates", type=float, nargs="+", default=[1000.0, 5000.0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--promote-after", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    rows = []
    with temp_root("segstream-bench-promotion-", args.keep) as root:
        settings = bench_settings(root)
        log = root / "stream.log"
        with embedded_broker(settings):
            spark = get_spark(settings, "bench-promotion")
            promote_fixed_model(spark, settings)
            stream = start_stream(settings, False, log)
            versions = Versions(settings)
            scores = ScoresLog(settings)
            load = Load()
            try:
                everyone = range(args.customers)
                started = time.monotonic()
                load.publish(settings, load.events(everyone, args.customers, "pre"), None)

                def all_scored() -> bool:
                    versions.read()
                    return len(versions.customers[1]) >= int(args.customers)

                wait_for(all_scored, 900, "the preload's scores", log)
                print(
                    f"preload: {args.customers:,} customers scored in {time.monotonic() - started:.0f} s"
                )
                base = fixed_model()
                for i, rate in enumerate(args.rates, start=2):
                    n = int(rate * args.duration)
                    events = load.events(everyone, n, f"r{int(rate)}")
                    t0 = time.time()
                    producer = threading.Thread(target=load.publish, args=(settings, events, rate))
                    producer.start()
                    time.sleep(args.promote_after)
                    shifted = tuple(tuple(c + 0.1 * i for c in row) for row in base.centroids)
                    model = registry.register(
                        spark, settings, dataclasses.replace(base, centroids=shifted)
                    )
                    registry.promote(spark, settings, model.version)
                    promoted = time.time()

                    def rescored(version: int = model.version) -> bool:
                        versions.read()
                        return len(versions.customers[version]) >= int(args.customers)

                    done = wait_for(rescored, 900, "every customer re-scored", log)
                    producer.join()
                    t1 = time.time()
                    lag = batch_lag(
                        settings.checkpoint_path(STATE_QUERY), promoted * 1000, model.version
                    )
                    before = feed_latencies(scores, load, t0, promoted)
                    after = feed_latencies(scores, load, promoted, t1)
                    # The lake's batches of the window: waited for, it trails the feed.
                    time.sleep(20)
                    lake_before = lake_latency(spark, settings, t0, promoted)
                    lake_after = lake_latency(spark, settings, promoted, t1)
                    rows.append(
                        (
                            f"{rate:,.0f}",
                            f"{versions.first[model.version] - promoted:.2f}",
                            lag,
                            f"{done - promoted:.1f}",
                            f"{pct(before, 50):.2f} / {pct(before, 95):.2f}",
                            f"{pct(after, 50):.2f} / {pct(after, 95):.2f}",
                            "-"
                            if lake_before[0] is None
                            else f"{lake_before[0]:.1f} / {lake_before[1]:.1f}",
                            "-"
                            if lake_after[0] is None
                            else f"{lake_after[0]:.1f} / {lake_after[1]:.1f}",
                        )
                    )
                    print(rows[-1], flush=True)
            finally:
                versions.close()
                scores.close()
                print(f"stream exit status {stop_stream(stream)}")
                spark.stop()
    print()
    print(
        markdown_table(
            (
                "events/s",
                "promotion -> first record of it (s)",
                "batches after the running one",
                "promotion -> everyone re-scored (s)",
                "feed p50 / p95 before (s)",
                "feed p50 / p95 after (s)",
                "customer_segments p50 / p95 before (s)",
                "customer_segments p50 / p95 after (s)",
            ),
            rows,
        )
    )
    worst = max(float(r[3]) for r in rows)
    print(f"everyone re-scored, slowest: {worst:.1f} s (target 60 s {verdict(worst, 60.0)})")
    print(
        f"batches after the running one, most: {max(r[2] for r in rows)} (target 2 {verdict(max(r[2] for r in rows), 2)})"
    )


if __name__ == "__main__":
    main()
