"""The segment feed's latency now, read from the stream's own `customer-scores` records in
Kafka. It is the one thing the monitor reads outside the lake: the lake is written behind the
hot part and, on a busy machine, can be minutes behind it, so the feed latency it records is
that old (and absent until its first batch)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from segstream.config import Settings
from segstream.contracts.stream_records import PURCHASE

# Per partition: enough records for a stable p95, few enough to read on every refresh.
RECENT_RECORDS = 500


@dataclass(frozen=True)
class FeedLatency:
    """From `produced_at` to the Kafka time of the purchase records read."""

    records: int
    p50_s: float
    p95_s: float
    newest_at: datetime


def recent_latency(
    settings: Settings, per_partition: int = RECENT_RECORDS, timeout_s: float = 2.0
) -> FeedLatency | None:
    """Over the newest `per_partition` records of each partition of `customer-scores` whose
    cause is a purchase; None when there is none, or the broker does not answer within
    `timeout_s` (the page then falls back to what the lake recorded)."""
    topic = settings.topic_customer_scores
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            bootstrap_timeout_ms=int(timeout_s * 1000),
            request_timeout_ms=int(timeout_s * 1000) + 1000,
            **settings.kafka_client_options(),
        )
    except KafkaError:
        return None
    latencies: list[float] = []
    newest = 0
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not parts:
            return None
        consumer.assign(parts)
        ends = consumer.end_offsets(parts)
        begins = consumer.beginning_offsets(parts)
        for tp in parts:
            consumer.seek(tp, max(begins[tp], ends[tp] - per_partition))
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in parts) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                for r in records:
                    body = json.loads(r.value)
                    if body["cause"] == PURCHASE and body["produced_at"]:
                        produced = datetime.fromisoformat(body["produced_at"]).timestamp()
                        latencies.append(r.timestamp / 1000 - produced)
                        newest = max(newest, r.timestamp)
    except KafkaError:
        return None
    finally:
        consumer.close()
    if not latencies:
        return None
    p50, p95 = pd.Series(latencies).quantile([0.5, 0.95])
    return FeedLatency(
        records=len(latencies),
        p50_s=float(p50),
        p95_s=float(p95),
        newest_at=datetime.fromtimestamp(newest / 1000, UTC),
    )
