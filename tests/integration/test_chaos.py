"""Exactly once under crashes: the stream is SIGKILLed at random moments while a producer
writes, a model is promoted while it is down and another while it runs (killed in the middle
of the switch, as soon as its first batch with the new model has recorded it), restarted each
time, and must end exactly where an uninterrupted run would: exact totals and events, every
customer in the segment the promoted model gives it, and a history (and feed) of real
transitions only, each scored by the model it names from a state the customer's events
actually passed through (totals of a prefix of them, in the order the stream read them)."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kafka import KafkaConsumer, TopicPartition

from producers.generator import GeneratorOptions, generate
from segstream.config import Settings
from segstream.contracts import tables
from segstream.contracts.stream_records import STATE_QUERY
from segstream.model import registry
from segstream.model.scoring import score_numpy
from segstream.runtime import topics
from streaming.model_log import LOG_FILE
from tests.conftest import make_settings, on_broker
from tests.integration.helpers import (
    check_feed,
    check_history,
    check_segments,
    expected_rfm,
    feed,
    model_for,
    produce_paced,
    publish,
    read_rfm,
    run_cli,
    table,
)

pytestmark = pytest.mark.integration

EVENTS = 30_000
KILLS = 3
# Published after the promotion while the stream runs.
EXTRA = 200
CENTROIDS = ((-0.5, 0.5, 0.5), (0.5, -0.5, -0.5))
SECOND_CENTROIDS = ((0.6, 0.9, 0.9), (-0.3, -0.2, -0.2))


def arrival_order(settings: Settings) -> list[str]:
    """Event ids in the order of `transactions` (per partition, by offset), each at its
    first occurrence."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        **settings.kafka_client_options(),
    )
    try:
        topic = settings.topic_transactions
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        rows: list[tuple[int, int, str]] = []
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            for records in consumer.poll(timeout_ms=1000, max_records=50_000).values():
                for r in records:
                    rows.append((r.partition, r.offset, json.loads(r.value)["event_id"]))
    finally:
        consumer.close()
    seen: set[str] = set()
    order = []
    for _, _, event_id in sorted(rows):
        if event_id not in seen:
            seen.add(event_id)
            order.append(event_id)
    return order


def _start_stream(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", "stream"],
            env=settings.to_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_sigkill_at_random_moments_changes_nothing(
    broker_settings: Settings,
    spark,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings = make_settings(
        tmp_path,
        **on_broker(broker_settings),
        topic_transactions="chaos",
        topic_customers="chaos-customers",
        max_offsets_per_trigger=4000,
    )
    topics.ensure_topics(settings)
    options = GeneratorOptions(customers=2000, seed=99, start=datetime(2024, 2, 1, tzinfo=UTC))
    events = list(itertools.islice(generate(options), EVENTS + EXTRA))
    producer = threading.Thread(
        target=produce_paced, args=(settings, events[:EVENTS], 1000.0), daemon=True
    )
    producer.start()

    rng = random.Random(2024)
    log = tmp_path / "stream.log"
    rfm_log = settings.table_path(tables.CUSTOMER_RFM) / "_delta_log"
    model = None
    for kill in range(KILLS):
        if kill == 1:
            # Promoted while the stream is down between two crashes, after the first.
            model = registry.register(
                spark, settings, model_for(0, expected_rfm(events[:5000]), CENTROIDS)
            )
            registry.promote(spark, settings, model.version)
        stream = _start_stream(settings, log)
        if kill == 2:
            # Promoted while the stream runs (it may have read everything by then: events
            # follow, so that a batch takes the model up), and killed as soon as the first
            # batch with it has recorded its model: that batch and the re-score requests
            # are cut short.
            second = registry.register(
                spark, settings, model_for(0, expected_rfm(events[:5000]), SECOND_CENTROIDS)
            )
            registry.promote(spark, settings, second.version)
            publish(settings, events[EVENTS:])
            models_log = settings.checkpoint_path(STATE_QUERY) / LOG_FILE
            deadline = 180.0
            while f", {second.version}]" not in models_log.read_text():
                assert stream.poll() is None, log.read_text()[-3000:]
                assert deadline > 0, f"model v{second.version} never taken up"
                threading.Event().wait(0.02)
                deadline -= 0.02
        else:
            # Wait until this incarnation has committed something, then kill it at a random
            # moment of the following batches (mid-write as often as not).
            before = len(list(rfm_log.glob("*.json"))) if rfm_log.exists() else 0
            deadline = 180.0
            while (
                deadline > 0
                and (len(list(rfm_log.glob("*.json"))) if rfm_log.exists() else 0) <= before
            ):
                assert stream.poll() is None, log.read_text()[-3000:]
                threading.Event().wait(0.5)
                deadline -= 0.5
            assert deadline > 0, (
                f"stream made no progress before kill {kill + 1}:\n{log.read_text()[-3000:]}"
            )
            threading.Event().wait(rng.uniform(0.5, 6.0))
        os.killpg(stream.pid, signal.SIGKILL)
        stream.wait()
    producer.join()

    run_cli(settings, "stream", "--once", timeout=900)

    expected = expected_rfm(events)
    actual = read_rfm(spark, settings)
    pd.testing.assert_frame_equal(actual[expected.columns], expected, check_exact=True)

    stored = spark.read.format("delta").load(str(settings.table_path(tables.EVENTS)))
    assert stored.count() == len(events)
    assert stored.select("event_id").distinct().count() == len(events)

    assert model is not None
    model = registry.current(spark, settings)
    assert model is not None
    segments = check_segments(spark, settings, model, expected)
    history = table(spark, settings, tables.SEGMENT_HISTORY)
    check_history(history, segments)
    changes = check_feed(feed(settings), history)
    # Every change names the segment its own features give, and those features are the
    # totals of a prefix of the customer's events, in the order the customer state read them
    # (one customer's events are on one partition of `transactions`).
    by_id = {e.event_id: e for e in events}
    prefixes: dict[str, set[tuple[int, Decimal]]] = {}
    running: dict[str, tuple[int, Decimal]] = {}
    for event_id in arrival_order(settings):
        e = by_id[event_id]
        orders, money = running.get(e.customer_id, (0, Decimal("0.00")))
        if e.event_type == "purchase":
            orders, money = orders + 1, money + e.amount
        else:
            money -= e.amount
        running[e.customer_id] = (orders, money)
        prefixes.setdefault(e.customer_id, set()).add((orders, money))
    assert model.version == 2
    models = {m.version: m for m in registry.list_models(spark, settings)}
    assert {r["model_version"] for r in changes.values()} == {1, 2}
    for r in changes.values():
        scorer = models[r["model_version"]]
        x = np.array([[r[f] for f in scorer.features]])
        assert int(score_numpy(scorer, x).segment_id[0]) == r["to_segment_id"], r
        totals = {(o, max(Decimal("0.00"), m)) for o, m in prefixes[r["customer_id"]]}
        assert (
            int(r["frequency"]),
            Decimal(str(r["monetary"])).quantize(Decimal("0.01")),
        ) in totals
