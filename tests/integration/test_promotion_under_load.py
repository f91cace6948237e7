"""A promotion under continuous load (500 events/s): the `customer-state` query is never
restarted (one run id throughout), the new model scores from within two batches of the
promotion's commit, and afterwards every customer holds the segment the new model gives, the
totals are exact and the feed is an exact chain of real transitions."""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from producers.generator import GeneratorOptions, generate
from segstream.config import Settings
from segstream.contracts import tables
from segstream.contracts.stream_records import STATE_QUERY
from segstream.model import registry
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
    read_rfm,
    run_cli,
    table,
)

pytestmark = pytest.mark.integration

RATE = 500.0
EVENTS = 35_000
_RUN = re.compile(r"customer-state batch \d+ \(run ([0-9a-f-]+)\)")


def _planned_before(checkpoint: Path, at_ms: float) -> int:
    """The newest batch the query planned before `at_ms` (epoch ms), from its offset log."""
    planned = -1
    for path in (checkpoint / "offsets").iterdir():
        if path.name.isdigit():
            meta = json.loads(path.read_text().splitlines()[1])
            if meta["batchTimestampMs"] <= at_ms:
                planned = max(planned, int(path.name))
    return planned


def _caught_up(spark, settings: Settings, expected: pd.DataFrame, version: int) -> bool:  # type: ignore[no-untyped-def]
    path = settings.table_path(tables.CUSTOMER_SEGMENTS)
    if not list((path / "_delta_log").glob("*.json")):
        return False
    segments = table(spark, settings, tables.CUSTOMER_SEGMENTS)
    if len(segments) != len(expected) or set(segments["model_version"]) != {version}:
        return False
    try:
        actual = read_rfm(spark, settings)
        pd.testing.assert_frame_equal(actual[expected.columns], expected, check_exact=True)
    except AssertionError:
        return False
    return True


def test_a_promotion_under_load_takes_effect_without_a_restart(
    broker_settings: Settings,
    spark,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    settings = make_settings(
        tmp_path,
        **on_broker(broker_settings),
        topic_transactions="promotion",
        topic_customers="promotion-customers",
    )
    topics.ensure_topics(settings)
    options = GeneratorOptions(customers=2000, seed=29, start=datetime(2024, 9, 1, tzinfo=UTC))
    events = list(itertools.islice(generate(options), EVENTS))
    rfm = expected_rfm(events[:5000])
    first = model_for(0, rfm, ((-0.5, 0.5, 0.5), (0.5, -0.5, -0.5)))
    registry.promote(spark, settings, registry.register(spark, settings, first).version)

    log = tmp_path / "stream.log"
    with log.open("ab") as out:
        stream = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "stream"],
            env=settings.to_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    producer = threading.Thread(target=produce_paced, args=(settings, events, RATE), daemon=True)
    expected = expected_rfm(events)
    try:
        producer.start()
        deadline = time.monotonic() + 240
        while "customer-state batch" not in log.read_text():
            assert stream.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        time.sleep(10)
        assert producer.is_alive(), "the load ended before the promotion: raise EVENTS"
        second = model_for(0, rfm, ((0.6, 0.9, 0.9), (-0.3, -0.2, -0.2)))
        registry.promote(spark, settings, registry.register(spark, settings, second).version)
        promoted_ms = time.time() * 1000
        assert producer.is_alive(), "the load ended before the promotion took effect"
        producer.join(timeout=200)
        assert not producer.is_alive()
        deadline = time.monotonic() + 300
        while not _caught_up(spark, settings, expected, 2):
            assert stream.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(2)
        stream.send_signal(signal.SIGTERM)
        assert stream.wait(timeout=120) == 0, log.read_text()[-3000:]
    finally:
        if stream.poll() is None:
            stream.kill()
    # The lake's history and events follow the tables above: drained here.
    run_cli(settings, "stream", "--once")

    text = log.read_text()
    runs = set(_RUN.findall(text))
    assert len(runs) == 1, runs
    checkpoint = settings.checkpoint_path(STATE_QUERY)
    steps = json.loads((checkpoint / LOG_FILE).read_text())["steps"]
    assert [v for _, v in steps] == [1, 2]
    running = _planned_before(checkpoint, promoted_ms)
    assert steps[1][0] <= running + 2, (steps, running)

    model = registry.current(spark, settings)
    assert model is not None and model.version == 2
    segments = check_segments(spark, settings, model, expected)
    history = table(spark, settings, tables.SEGMENT_HISTORY)
    check_history(history, segments)
    records = check_feed(feed(settings), history)
    assert any(r["model_version"] == 2 and r["cause"] == "retrain" for r in records.values())
