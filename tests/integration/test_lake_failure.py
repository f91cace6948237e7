"""A lake that fails cannot stop the feed: while events arrive at the running stream, the lake
part's process is SIGKILLed. The hot part goes on publishing (no gap of more than 5 s on the
feed), the lake part is started again by the stream alone, and the tables end exact: totals
to the cent, every customer in the segment the model gives, history a chain of real
transitions that the feed carries."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import psutil
import pytest
from kafka import KafkaConsumer

from producers.generator import GeneratorOptions, generate
from segstream.config import Settings
from segstream.contracts import tables
from segstream.model import registry
from segstream.runtime import topics
from tests.conftest import make_settings, on_broker
from tests.integration.helpers import (
    check_feed,
    check_history,
    check_segments,
    expected_rfm,
    feed,
    model_for,
    produce_paced,
    read_rfm,
    table,
)

pytestmark = pytest.mark.integration

EVENTS = 18_000
RATE = 300.0


def _lake_part(stream: subprocess.Popen[bytes]) -> psutil.Process | None:
    for child in psutil.Process(stream.pid).children():
        try:
            if "--part" in child.cmdline() and "lake" in child.cmdline():
                return child
        except psutil.Error:
            continue
    return None


def _watch_feed(settings: Settings, seen: list[float], done: threading.Event) -> None:
    consumer = KafkaConsumer(
        settings.topic_segment_changes,
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **settings.kafka_client_options(),
    )
    try:
        while not done.is_set():
            for records in consumer.poll(timeout_ms=200).values():
                seen.extend(time.monotonic() for _ in records)
    finally:
        consumer.close()


def _caught_up(spark, settings: Settings, events: int, expected: pd.DataFrame) -> bool:  # type: ignore[no-untyped-def]
    """Whether `events` and `customer_rfm` hold everything that was sent."""
    for name in (tables.EVENTS, tables.CUSTOMER_RFM):
        if not list((settings.table_path(name) / "_delta_log").glob("*.json")):
            return False
    if len(table(spark, settings, tables.EVENTS)) != events:
        return False
    actual = read_rfm(spark, settings)
    try:
        pd.testing.assert_frame_equal(actual[expected.columns], expected, check_exact=True)
    except AssertionError:
        return False
    return True


def test_sigkill_of_the_lake_part_leaves_the_feed_running_and_the_tables_exact(
    broker_settings: Settings,
    spark,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    settings = make_settings(
        tmp_path,
        **on_broker(broker_settings),
        topic_transactions="lake-failure",
        topic_customers="lake-failure-customers",
    )
    topics.ensure_topics(settings)
    # Many customers, so that first segments keep the feed busy the whole time.
    options = GeneratorOptions(customers=4000, seed=23, start=datetime(2024, 7, 1, tzinfo=UTC))
    events = list(itertools.islice(generate(options), EVENTS))
    model = model_for(0, expected_rfm(events[:2000]), ((-0.5, 0.5, 0.5), (0.5, -0.5, -0.5)))
    registry.promote(spark, settings, registry.register(spark, settings, model).version)
    model = registry.current(spark, settings)
    assert model is not None

    log = tmp_path / "stream.log"
    seen: list[float] = []
    done = threading.Event()
    watcher = threading.Thread(target=_watch_feed, args=(settings, seen, done), daemon=True)
    watcher.start()
    with log.open("ab") as out:
        stream = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "stream"],
            env=settings.to_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    producer = threading.Thread(target=produce_paced, args=(settings, events, RATE), daemon=True)
    try:
        producer.start()
        deadline = time.monotonic() + 240
        while not seen:
            assert stream.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        # The feed is flowing and the lake part busy with it.
        time.sleep(5)
        assert producer.is_alive(), "the load ended before the kill: raise EVENTS"
        lake = _lake_part(stream)
        assert lake is not None, "no lake part found"
        killed_at = time.monotonic()
        lake.send_signal(signal.SIGKILL)
        producer.join(timeout=120)
        assert not producer.is_alive()
        produced_until = time.monotonic()

        expected = expected_rfm(events)
        deadline = time.monotonic() + 300
        while not _caught_up(spark, settings, len(events), expected):
            assert stream.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(2)
        replacement = _lake_part(stream)
        assert replacement is not None and replacement.pid != lake.pid
        stream.send_signal(signal.SIGTERM)
        assert stream.wait(timeout=120) == 0, log.read_text()[-3000:]
    finally:
        done.set()
        if stream.poll() is None:
            stream.kill()
    watcher.join(timeout=30)
    text = log.read_text()
    assert "the lake part of the stream exited with status" in text
    assert "the lake part of the stream started again" in text

    # The feed went on while the lake part was down and came back.
    during = [t for t in seen if killed_at - 1 <= t <= produced_until]
    gaps = [b - a for a, b in itertools.pairwise([killed_at, *during, produced_until])]
    assert max(gaps) <= 5.0, f"the feed stood still for {max(gaps):.1f} s"

    actual = read_rfm(spark, settings)
    pd.testing.assert_frame_equal(actual[expected.columns], expected, check_exact=True)
    assert len(table(spark, settings, tables.EVENTS)) == len(events)
    segments = check_segments(spark, settings, model, expected)
    history = table(spark, settings, tables.SEGMENT_HISTORY)
    check_history(history, segments)
    check_feed(feed(settings), history)
