"""A lake checkpoint from when the `lake` query also read `customer-scores` resumes where it
stopped: every event after it is appended once, none before it again."""

from __future__ import annotations

import itertools
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import functions as F

from producers.generator import GeneratorOptions, generate
from segstream.config import Settings
from segstream.contracts import tables
from segstream.contracts.stream_records import JSON_OPTIONS, SCORES_SCHEMA
from segstream.runtime import topics
from streaming import lake_writer, sources
from streaming.queries import app_id
from tests.conftest import make_settings, on_broker
from tests.integration.helpers import publish, table

pytestmark = pytest.mark.integration


def _run_three_source_lake(spark: Any, settings: Settings) -> None:
    """The `lake` query's plan before `customer-scores` moved out of it (its rows unioned
    after the de-duplication, the last of three sources), over what the topics hold."""
    text = F.col("value").cast("string")
    scores = sources.kafka_topic(spark, settings, settings.topic_customer_scores).select(
        "timestamp", F.from_json(text, SCORES_SCHEMA, JSON_OPTIONS).alias("s")
    )
    rows = lake_writer.inputs(spark, settings).unionByName(scores, allowMissingColumns=True)
    app_id(settings, lake_writer.QUERY)
    query = (
        rows.writeStream.option("checkpointLocation", str(settings.checkpoint_path("lake")))
        .foreachBatch(lambda batch, _batch_id: batch.count())
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(180)
    assert query.exception() is None


def test_a_checkpoint_of_the_three_source_layout_resumes_where_it_stopped(
    broker_settings: Settings,
    spark,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings = make_settings(
        tmp_path,
        **on_broker(broker_settings),
        topic_transactions="upgrade-transactions",
        topic_customers="upgrade-customers",
        topic_segment_changes="upgrade-changes",
        topic_customer_scores="upgrade-scores",
        topic_segment_control="upgrade-control",
    )
    topics.ensure_topics(settings)
    options = GeneratorOptions(customers=50, seed=7, start=datetime(2024, 5, 1, tzinfo=UTC))
    events = list(itertools.islice(generate(options), 600))
    before, after = events[:300], events[300:]
    assert publish(settings, before) == len(before)
    _run_three_source_lake(spark, settings)
    offsets = settings.checkpoint_path(lake_writer.QUERY) / "offsets"
    assert [len(p.read_text().splitlines()) for p in offsets.iterdir() if p.name.isdigit()] == [5]

    assert publish(settings, after) == len(after)
    # The lake part alone: the customer state has nothing to do with the lake's checkpoint.
    lake = subprocess.run(
        [sys.executable, "-m", "streaming.job", "--part", "lake", "--once"],
        env=settings.to_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert lake.returncode == 0, lake.stderr

    # The old checkpoint's events were taken (by a query that wrote nothing): only the later
    # ones are in `events`, each once.
    assert sorted(table(spark, settings, tables.EVENTS)["event_id"]) == sorted(
        e.event_id for e in after
    )
    assert all(len(p.read_text().splitlines()) == 4 for p in offsets.iterdir() if p.name.isdigit())
