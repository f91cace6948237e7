"""The stream on the real broker, in three rounds of `stream --once`:

1. valid events plus one bad message of every kind: exact quarantine, nothing valid lost;
2. model v1 promoted; new events, late events and a duplicate re-sent much later: exact
   aggregates, the duplicate dropped and counted; every customer (new events or not) scored
   with v1 at its own as-of, recomputed here with NumPy; history the customers' real
   transitions;
3. model v2 promoted: every customer moves to v2, the same checks.

Last, the segment feed read from its topic: after dedupe by change id, exactly one record per
row of segment_history, with the same change, and no customer's as-of goes back.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from producers.bad_events import BadKind, make_bad
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
    publish,
    read_rfm,
    run_cli,
    table,
)

pytestmark = pytest.mark.integration

FEATURES = ("recency_days", "frequency", "monetary")
NAMES = ("Champions", "At Risk")


def test_quarantine_dedupe_late_events_and_live_segments(
    broker_settings: Settings,
    spark,  # type: ignore[no-untyped-def]
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    settings = make_settings(
        tmp_path,
        **on_broker(broker_settings),
        topic_transactions="guarantees",
        topic_customers="guarantees-customers",
        topic_segment_changes="guarantees-changes",
    )
    topics.ensure_topics(settings)
    stream = generate(
        GeneratorOptions(customers=60, seed=5, start=datetime(2024, 3, 1, tzinfo=UTC))
    )

    # Round 1: valid events and one bad message of every kind.
    round1 = list(itertools.islice(stream, 1500))
    rng = random.Random(1)
    spare = generate(
        GeneratorOptions(
            customers=5, seed=6, start=datetime(2024, 3, 1, tzinfo=UTC), id_prefix="spare"
        )
    )
    produced_at = datetime(2024, 3, 1, tzinfo=UTC)
    bad = [
        make_bad(kind, rng, next(spare), produced_at)
        for kind in BadKind
        if kind is not BadKind.DUPLICATE
    ]
    publish(settings, round1, [(b.key, b.value) for b in bad])
    run_cli(settings, "stream", "--once")

    quarantine = table(spark, settings, tables.QUARANTINE)
    got = sorted(
        (bytes(v), r) for v, r in zip(quarantine["raw_value"], quarantine["reason"], strict=True)
    )
    assert got == sorted((b.value, b.reason) for b in bad)
    assert quarantine["kafka_topic"].eq("guarantees").all()
    assert len(table(spark, settings, tables.EVENTS)) == 1500

    # Round 2: model v1; new events, late events, and a duplicate of an early event.
    rfm1 = expected_rfm(round1)
    v1 = registry.register(
        spark, settings, model_for(0, rfm1, ((-0.5, 0.5, 0.5), (0.5, -0.5, -0.5)))
    )
    registry.promote(spark, settings, v1.version)
    v1 = registry.current(spark, settings)
    assert v1 is not None and v1.version == 1

    fresh = list(itertools.islice(stream, 500))
    late = [
        dataclasses.replace(e, event_time=e.event_time - timedelta(days=200)) for e in fresh[:25]
    ]
    round2 = late + fresh[25:]
    # round1[10] again: a duplicate (same event id) arriving long after its original.
    publish(settings, [*round2, round1[10]])
    run_cli(settings, "stream", "--once")

    everything = round1 + round2
    rfm2 = expected_rfm(everything)
    pd.testing.assert_frame_equal(read_rfm(spark, settings)[rfm2.columns], rfm2, check_exact=True)
    events = table(spark, settings, tables.EVENTS)
    assert len(events) == len(everything) and events["event_id"].is_unique
    metrics = table(spark, settings, tables.STREAM_METRICS)
    checks = metrics[metrics["query"] == "transactions"]
    assert int(checks["duplicates_dropped"].sum()) == 1
    assert int(checks["quarantined_rows"].sum()) == len(bad)

    segments = check_segments(spark, settings, v1, rfm2)
    history = table(spark, settings, tables.SEGMENT_HISTORY)
    check_history(history, segments)
    assert set(history["cause"]) <= {"purchase", "retrain"}

    # Round 3: model v2 moves the boundary; the stream switches and re-scores everyone.
    v2 = registry.register(
        spark, settings, dataclasses.replace(v1, centroids=((0.6, 0.9, 0.9), (-0.3, -0.2, -0.2)))
    )
    registry.promote(spark, settings, v2.version)
    round3 = list(itertools.islice(stream, 150))
    publish(settings, round3)
    run_cli(settings, "stream", "--once")

    rfm3 = expected_rfm(everything + round3)
    before = segments["segment_id"]
    segments = check_segments(spark, settings, dataclasses.replace(v2, version=2), rfm3)
    history = table(spark, settings, tables.SEGMENT_HISTORY)
    check_history(history, segments)
    moved = set(history.loc[history["model_version"] == 2, "customer_id"])
    assert moved, "model v2 was built to move some customers"
    assert moved >= {c for c in segments.index if segments.loc[c, "segment_id"] != before[c]}

    # The feed: one record per history row (after dedupe by change id), the same change.
    check_feed(feed(settings), history)
