"""Exactly once under crashes: the stream is SIGKILLed at random moments while a producer
writes, restarted each time, and must end exactly where an uninterrupted run would."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from producers.generator import GeneratorOptions, generate
from producers.pacing import Pacer
from producers.publisher import Publisher
from segstream.config import Settings
from segstream.contracts import tables
from segstream.runtime import topics
from tests.conftest import make_settings
from tests.integration.helpers import expected_rfm, read_rfm, run_cli

pytestmark = pytest.mark.integration

EVENTS = 50_000
KILLS = 3


def _produce(settings: Settings, events: list, rate: float) -> None:  # type: ignore[type-arg]
    publisher = Publisher(settings)
    pacer = Pacer(rate)
    for e in events:
        pacer.wait()
        publisher.send_event(e)
    publisher.close()


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
        kafka_port=broker_settings.kafka_port,
        kafka_controller_port=broker_settings.kafka_controller_port,
        topic_transactions="chaos",
        topic_customers="chaos-customers",
        max_offsets_per_trigger=4000,
    )
    topics.ensure_topics(settings)
    options = GeneratorOptions(customers=2000, seed=99, start=datetime(2024, 2, 1, tzinfo=UTC))
    events = list(itertools.islice(generate(options), EVENTS))
    producer = threading.Thread(target=_produce, args=(settings, events, 1500.0), daemon=True)
    producer.start()

    rng = random.Random(2024)
    log = tmp_path / "stream.log"
    rfm_log = settings.table_path(tables.CUSTOMER_RFM) / "_delta_log"
    for kill in range(KILLS):
        stream = _start_stream(settings, log)
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
    assert stored.count() == EVENTS
    assert stored.select("event_id").distinct().count() == EVENTS
