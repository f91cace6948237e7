"""One writer of segments, under a backlog: each batch reads at most 100 messages of a topic,
far fewer than the 400 customers that a rescore or a promotion asks to re-score at once.
While events arrive at the running stream, two retrains register and promote a model each at
once (distinct versions, one promoted) and `segstream rescore` asks for aging twice. The
feed, deduped by change id, is an exact chain for every customer in the order of the topic,
every history row is a real transition (the `to` of one row is the `from` of the customer's
next), the feed carries exactly those changes, no customer's as-of goes back, and the
customers end in the segments the promoted model gives them."""

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
import pytest

from producers.generator import GeneratorOptions, generate
from segstream.config import Settings
from segstream.contracts import tables
from segstream.model import registry
from segstream.model.record import SegmentModel
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
    run_cli,
    table,
)

pytestmark = pytest.mark.integration

EVENTS = 6_000
# Messages per batch and topic, far below the customers a re-score asks for at once.
BUDGET = 100


def _wait_for(path: Path, stream: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 240
    while not (path / "_delta_log").is_dir() or not list((path / "_delta_log").glob("*1.json")):
        assert stream.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)


def test_rescore_and_retrain_while_events_arrive_leave_real_transitions(
    broker_settings: Settings,
    spark,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    settings = make_settings(
        tmp_path,
        **on_broker(broker_settings),
        topic_transactions="one-writer",
        topic_customers="one-writer-customers",
        topic_segment_changes="one-writer-changes",
        max_offsets_per_trigger=BUDGET,
    )
    topics.ensure_topics(settings)
    options = GeneratorOptions(customers=400, seed=17, start=datetime(2024, 5, 1, tzinfo=UTC))
    events = list(itertools.islice(generate(options), EVENTS))
    # A first model before the stream starts, so that segments exist from the first batch.
    first = model_for(0, expected_rfm(events[:2000]), ((-0.5, 0.5, 0.5), (0.5, -0.5, -0.5)))
    registry.promote(spark, settings, registry.register(spark, settings, first).version)

    log = tmp_path / "stream.log"
    with log.open("ab") as out:
        stream = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "stream"],
            env=settings.to_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        producer = threading.Thread(
            target=produce_paced, args=(settings, events, 300.0), daemon=True
        )
        producer.start()
        _wait_for(settings.table_path(tables.CUSTOMER_RFM), stream, log)
        run_cli(settings, "rescore")
        # Two retrains at once (a scheduled and a manual one), each registering a model with
        # other boundaries and promoting it, while events arrive.
        rfm = expected_rfm(events[:2000])
        retrains = [
            model_for(0, rfm, ((0.6, 0.9, 0.9), (-0.3, -0.2, -0.2))),
            model_for(0, rfm, ((0.2, -0.7, 0.4), (-0.6, 0.8, -0.1))),
        ]
        together = threading.Barrier(len(retrains))
        failures: list[BaseException] = []

        def retrain(model: SegmentModel) -> None:
            try:
                together.wait()
                registry.promote(spark, settings, registry.register(spark, settings, model).version)
            except BaseException as exc:  # reported below, not lost in the thread
                failures.append(exc)

        threads = [threading.Thread(target=retrain, args=(m,)) for m in retrains]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert failures == []
        run_cli(settings, "rescore")
        producer.join()
        stream.send_signal(signal.SIGTERM)
        assert stream.wait(timeout=120) == 0, log.read_text()[-3000:]
    finally:
        if stream.poll() is None:
            stream.kill()
    run_cli(settings, "stream", "--once")

    expected = expected_rfm(events)
    actual = read_rfm(spark, settings)
    pd.testing.assert_frame_equal(actual[expected.columns], expected, check_exact=True)
    models = registry.list_models(spark, settings)
    assert [m.version for m in models] == [1, 2, 3]
    assert [m.status for m in models].count("promoted") == 1
    promoted = registry.current(spark, settings)
    assert promoted is not None and promoted.version in (2, 3)
    segments = check_segments(spark, settings, promoted, expected)
    history = table(spark, settings, tables.SEGMENT_HISTORY)
    check_history(history, segments)
    check_feed(feed(settings), history)
    assert set(history["cause"]) <= {"purchase", "aging", "retrain"}
    assert "retrain" in set(history["cause"])
