"""The stream on the real broker, in three rounds of `stream --once`:

1. valid events plus one bad message of every kind: exact quarantine, nothing valid lost;
2. model v1 promoted; new events, late events and a duplicate re-sent much later: exact
   aggregates, the duplicate dropped and counted, exact segments and history rows;
3. model v2 promoted: touched customers move to v2, the others keep v1, history rows exact.

Last, the segment feed read from its topic: after dedupe by change id, exactly one record per
row of segment_history, with the same change.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from kafka import KafkaConsumer

from producers.bad_events import BadKind, make_bad
from producers.generator import GeneratorOptions, generate
from producers.publisher import Publisher
from segstream.config import Settings
from segstream.contracts import tables
from segstream.contracts.events import Event
from segstream.model import registry
from segstream.model.features import pandas_features
from segstream.model.record import SegmentModel
from segstream.model.scoring import score_numpy
from segstream.runtime import topics
from tests.conftest import make_settings
from tests.integration.helpers import expected_rfm, read_rfm, run_cli

pytestmark = pytest.mark.integration

FEATURES = ("recency_days", "frequency", "monetary")
NAMES = ("Champions", "At Risk")


def _publish(settings: Settings, events: list[Event], raw: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    publisher = Publisher(settings)
    for e in events:
        publisher.send_event(e)
    for key, value in raw:
        publisher.send_raw(settings.topic_transactions, key, value)
    publisher.close()


def _table(spark, settings: Settings, name: str) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return spark.read.format("delta").load(str(settings.table_path(name))).toPandas()


def _model(
    version: int, rfm: pd.DataFrame, centroids: tuple[tuple[float, ...], ...]
) -> SegmentModel:
    x = pandas_features(rfm, rfm["last_event_at"].max())[list(FEATURES)].to_numpy()
    z = np.column_stack([x[:, 0], np.log1p(x[:, 1]), np.log1p(x[:, 2])])
    return SegmentModel(
        version=version,
        trained_at=datetime(2024, 1, 1, tzinfo=UTC),
        as_of=datetime(2024, 1, 1, tzinfo=UTC),
        rows=len(rfm),
        features=FEATURES,
        transforms=("identity", "log1p", "log1p"),
        mean=tuple(float(v) for v in z.mean(axis=0)),
        std=tuple(float(v) for v in z.std(axis=0)),
        centroids=centroids,
        segment_ids=(1, 2),
        segment_names=NAMES,
        engine="sklearn",
    )


def _expected_segments(
    model: SegmentModel, rfm: pd.DataFrame, customers: set[str]
) -> dict[str, int]:
    as_of = rfm["last_event_at"].max()
    chosen = rfm.loc[sorted(customers)]
    x = pandas_features(chosen, as_of)[list(model.features)].to_numpy()
    return dict(zip(chosen.index, (int(i) for i in score_numpy(model, x).segment_id), strict=True))


def _feed(settings: Settings) -> list[dict[str, object]]:
    """Every record of the segment-changes topic, read from the beginning to its end."""
    consumer = KafkaConsumer(
        settings.topic_segment_changes,
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=5_000,
        **settings.kafka_client_options(),
    )
    try:
        records = []
        for message in consumer:
            value = json.loads(message.value)
            assert message.key.decode() == value["customer_id"]
            records.append(value)
        return records
    finally:
        consumer.close()


def test_quarantine_dedupe_late_events_and_live_segments(
    broker_settings: Settings,
    spark,  # type: ignore[no-untyped-def]
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    settings = make_settings(
        tmp_path,
        kafka_port=broker_settings.kafka_port,
        kafka_controller_port=broker_settings.kafka_controller_port,
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
    _publish(settings, round1, [(b.key, b.value) for b in bad])
    run_cli(settings, "stream", "--once")

    quarantine = _table(spark, settings, tables.QUARANTINE)
    got = sorted(
        (bytes(v), r) for v, r in zip(quarantine["raw_value"], quarantine["reason"], strict=True)
    )
    assert got == sorted((b.value, b.reason) for b in bad)
    assert quarantine["kafka_topic"].eq("guarantees").all()
    assert len(_table(spark, settings, tables.EVENTS)) == 1500

    # Round 2: model v1; new events, late events, and a duplicate of an early event.
    rfm1 = expected_rfm(round1)
    v1 = registry.register(spark, settings, _model(0, rfm1, ((-0.5, 0.5, 0.5), (0.5, -0.5, -0.5))))
    registry.promote(spark, settings, v1.version)
    v1 = registry.current(spark, settings)
    assert v1 is not None and v1.version == 1

    fresh = list(itertools.islice(stream, 500))
    late = [
        dataclasses.replace(e, event_time=e.event_time - timedelta(days=200)) for e in fresh[:25]
    ]
    round2 = late + fresh[25:]
    # round1[10] again: a duplicate (same event id) arriving long after its original.
    _publish(settings, [*round2, round1[10]])
    run_cli(settings, "stream", "--once")

    everything = round1 + round2
    rfm2 = expected_rfm(everything)
    pd.testing.assert_frame_equal(read_rfm(spark, settings)[rfm2.columns], rfm2, check_exact=True)
    events = _table(spark, settings, tables.EVENTS)
    assert len(events) == len(everything) and events["event_id"].is_unique
    metrics = _table(spark, settings, tables.STREAM_METRICS)
    assert int(metrics["duplicates_dropped"].sum()) == 1
    assert int(metrics["quarantined_rows"].sum()) == len(bad)

    touched2 = {e.customer_id for e in round2}
    expected2 = _expected_segments(v1, rfm2, touched2)
    segments = _table(spark, settings, tables.CUSTOMER_SEGMENTS).set_index("customer_id")
    assert dict(segments["segment_id"]) == expected2
    assert set(segments["model_version"]) == {1}
    history = _table(spark, settings, tables.SEGMENT_HISTORY)
    assert sorted(zip(history["customer_id"], history["to_segment_id"], strict=True)) == sorted(
        expected2.items()
    )
    assert history["from_segment_id"].isna().all() and set(history["cause"]) == {"purchase"}

    # Round 3: model v2 moves the boundary; only the customers it touches are re-scored.
    v2 = registry.register(
        spark, settings, dataclasses.replace(v1, centroids=((0.6, 0.9, 0.9), (-0.3, -0.2, -0.2)))
    )
    registry.promote(spark, settings, v2.version)
    round3 = list(itertools.islice(stream, 150))
    _publish(settings, round3)
    run_cli(settings, "stream", "--once")

    rfm3 = expected_rfm(everything + round3)
    touched3 = {e.customer_id for e in round3}
    expected3 = _expected_segments(dataclasses.replace(v2, version=2), rfm3, touched3)
    segments = _table(spark, settings, tables.CUSTOMER_SEGMENTS).set_index("customer_id")
    assert dict(segments.loc[sorted(touched3), "segment_id"]) == expected3
    assert set(segments.loc[sorted(touched3), "model_version"]) == {2}
    untouched = sorted(set(expected2) - touched3)
    assert set(segments.loc[untouched, "model_version"]) == {1}
    assert dict(segments.loc[untouched, "segment_id"]) == {c: expected2[c] for c in untouched}

    history = _table(spark, settings, tables.SEGMENT_HISTORY)
    new_rows = history[history["model_version"] == 2]
    moves = {c: (expected2.get(c), seg) for c, seg in expected3.items() if expected2.get(c) != seg}
    assert moves, "model v2 was built to move some customers"
    got_moves = {
        c: (None if pd.isna(f) else int(f), int(t))
        for c, f, t in zip(
            new_rows["customer_id"],
            new_rows["from_segment_id"],
            new_rows["to_segment_id"],
            strict=True,
        )
    }
    assert got_moves == moves
    # One model per micro-batch: no batch wrote rows of two versions.
    assert (history.groupby("batch_id")["model_version"].nunique() == 1).all()

    # The feed: one record per history row (after dedupe by change id), the same change.
    records = {r["change_id"]: r for r in _feed(settings)}
    assert len(records) == len(history)
    # Changes are compared as sorted tuples; a first segment's missing "from" sorts as -1.
    fed = sorted(
        (
            r["customer_id"],
            -1 if r["from_segment_id"] is None else r["from_segment_id"],
            r["to_segment_id"],
            r["to_segment_name"],
            r["model_version"],
            r["cause"],
            pd.Timestamp(r["event_time"]).tz_convert("UTC").tz_localize(None),
        )
        for r in records.values()
    )
    kept = sorted(
        (
            c,
            -1 if pd.isna(f) else int(f),
            int(t),
            n,
            int(v),
            cause,
            pd.Timestamp(at),
        )
        for c, f, t, n, v, cause, at in zip(
            history["customer_id"],
            history["from_segment_id"],
            history["to_segment_id"],
            history["to_segment_name"],
            history["model_version"],
            history["cause"],
            history["event_time"],
            strict=True,
        )
    )
    assert fed == kept
