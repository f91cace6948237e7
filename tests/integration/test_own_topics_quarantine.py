"""Bad records on the stream's own topics are quarantined, never a crash loop, and a re-score
as-of past the data is refused: records that are not records of `segment-changes`,
`customer-scores` and `segment-control`, and a request to age everyone to the year 2999, land
in `quarantine` with their reason, bytes and coordinates; the stream drains, the totals stay
exact, nobody's as-of moves to 2999; `segstream rescore --as-of 2999-01-01` exits 1 naming
the bound."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from producers.generator import GeneratorOptions, generate
from producers.publisher import Publisher
from segstream.config import Settings
from segstream.contracts import tables
from segstream.contracts.quarantine import FUTURE_AS_OF, MALFORMED_RECORD
from segstream.model import registry
from segstream.runtime import topics
from tests.conftest import make_settings, on_broker
from tests.integration.helpers import (
    check_segments,
    expected_rfm,
    model_for,
    publish,
    read_rfm,
    run_cli,
    table,
)

pytestmark = pytest.mark.integration


def test_bad_records_of_own_topics_are_quarantined_and_a_late_as_of_refused(
    broker_settings: Settings,
    spark,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    settings = make_settings(
        tmp_path,
        **on_broker(broker_settings),
        topic_transactions="own-topics",
        topic_customers="own-topics-customers",
    )
    topics.ensure_topics(settings)
    options = GeneratorOptions(customers=50, seed=3, start=datetime(2024, 2, 1, tzinfo=UTC))
    events = list(itertools.islice(generate(options), 600))
    model = model_for(0, expected_rfm(events), ((-0.5, 0.5, 0.5), (0.5, -0.5, -0.5)))
    registry.promote(spark, settings, registry.register(spark, settings, model).version)
    model = registry.current(spark, settings)
    assert model is not None
    customer = events[0].customer_id
    bad = {
        settings.topic_segment_changes: [b"{not json", b"{}"],
        settings.topic_customer_scores: [b'{"customer_id": "ghost", "n_inputs": "many"}'],
        settings.topic_segment_control: [
            b'{"cause": "aging"}',
            f'{{"customer_id": "{customer}", "cause": "aging", '
            f'"as_of": "2999-01-01T00:00:00.000000Z"}}'.encode(),
        ],
    }
    publisher = Publisher(settings)
    for topic, values in bad.items():
        for value in values:
            publisher.send_raw(topic, customer.encode(), value)
    publisher.close()
    publish(settings, events)
    run_cli(settings, "stream", "--once")

    quarantine = table(spark, settings, tables.QUARANTINE)
    got = sorted(
        (t, bytes(v), r)
        for t, v, r in zip(
            quarantine["kafka_topic"], quarantine["raw_value"], quarantine["reason"], strict=True
        )
    )
    want = sorted(
        (topic, value, FUTURE_AS_OF if b"2999" in value else MALFORMED_RECORD)
        for topic, values in bad.items()
        for value in values
    )
    assert got == want
    assert quarantine["detail"].str.len().gt(0).all()

    expected = expected_rfm(events)
    pd.testing.assert_frame_equal(
        read_rfm(spark, settings)[expected.columns], expected, check_exact=True
    )
    # Every as-of within the data, every segment the model's at it.
    check_segments(spark, settings, model, expected)

    refused = run_cli(settings, "rescore", "--as-of", "2999-01-01", ok=False)
    assert refused.returncode == 1
    assert "SEGSTREAM_AS_OF_MAX_AHEAD_H" in refused.stderr
