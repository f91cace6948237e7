"""The first end-to-end slice: produce to the real broker, `stream --once`, compare customer_rfm
with an independent pandas computation over exactly what was produced."""

from __future__ import annotations

import itertools
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from producers.generator import GeneratorOptions, generate
from producers.publisher import Publisher
from segstream.config import Settings
from segstream.contracts import tables
from segstream.lake import reads
from streaming import rebuild as derived
from tests.conftest import make_settings, on_broker
from tests.integration.helpers import expected_rfm, read_rfm, run_cli, table

pytestmark = pytest.mark.integration


def test_customer_rfm_matches_pandas_to_the_cent_and_microsecond(
    broker_settings: Settings,
    spark,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings = make_settings(
        tmp_path,
        **on_broker(broker_settings),
        topic_transactions="rfm-e2e",
    )
    from segstream.runtime import topics

    topics.ensure_topics(settings)
    options = GeneratorOptions(customers=100, seed=42, start=datetime(2024, 5, 1, tzinfo=UTC))
    events = list(itertools.islice(generate(options), 2000))
    publisher = Publisher(settings)
    for e in events:
        publisher.send_event(e)
    publisher.close()
    assert publisher.acked == 2000

    # The data must exercise what the test claims to check.
    per_customer = pd.Series([e.customer_id for e in events]).value_counts()
    assert len(per_customer) == 100 and (per_customer > 5).all()
    assert any(a.event_time == b.event_time for a, b in itertools.pairwise(events))
    assert any(e.event_type == "return" for e in events)
    assert any(e.amount % 1 != 0 for e in events)

    run_cli(settings, "stream", "--once")

    actual = read_rfm(spark, settings)
    expected = expected_rfm(events)
    pd.testing.assert_frame_equal(actual[expected.columns], expected, check_exact=True)
    event_ids = sorted(table(spark, settings, tables.EVENTS)["event_id"])
    assert event_ids == sorted(e.event_id for e in events)

    # A lost checkpoint over the kept lake is refused, and nothing is written.
    versions = {name: reads.version(settings, name) for name in derived.TABLES}
    shutil.rmtree(settings.lake / "checkpoints")
    refused = run_cli(settings, "stream", "--once", ok=False)
    lake_checkpoint = settings.checkpoint_path("lake")
    assert "the checkpoint of the stream's `customer-state` query at " in refused.stderr
    assert "is missing" in refused.stderr and "Rebuilding the stream" in refused.stderr
    assert {name: reads.version(settings, name) for name in derived.TABLES} == versions
    assert not (lake_checkpoint / "segstream-app-id").exists()

    # The rebuild derives the same lake again from the topics, counting every event once.
    run_cli(settings, "stream", "--once", "--rebuild")
    rebuilt = read_rfm(spark, settings)
    pd.testing.assert_frame_equal(rebuilt[expected.columns], expected, check_exact=True)
    assert sorted(table(spark, settings, tables.EVENTS)["event_id"]) == event_ids
