"""Both parts of the stream on a real Spark standalone cluster (one master, one 2-core worker
from pyspark's distribution, executors in JVMs of their own): each part's application takes
only its own cores, so `segstream stream --once` finishes with `customer_rfm` exact and every
customer in the segment the model gives."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from producers.generator import GeneratorOptions, generate
from segstream.config import Settings
from segstream.model import registry
from segstream.runtime import topics
from tests.cluster.standalone import standalone_cluster
from tests.conftest import make_settings, on_broker
from tests.integration.helpers import (
    check_segments,
    expected_rfm,
    model_for,
    publish,
    read_rfm,
    run_cli,
)

pytestmark = pytest.mark.cluster


def test_stream_once_on_a_standalone_cluster_is_exact(
    broker_settings: Settings,
    spark,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    with standalone_cluster(tmp_path / "cluster", cores=2) as master:
        settings = make_settings(
            tmp_path,
            **on_broker(broker_settings),
            topic_transactions="cluster",
            topic_customers="cluster-customers",
            spark_master=master,
            spark_driver_memory="1g",
        )
        topics.ensure_topics(settings)
        options = GeneratorOptions(customers=300, seed=41, start=datetime(2024, 4, 1, tzinfo=UTC))
        events = list(itertools.islice(generate(options), 3000))
        expected = expected_rfm(events)
        model = model_for(0, expected, ((-0.5, 0.5, 0.5), (0.5, -0.5, -0.5)))
        registry.promote(spark, settings, registry.register(spark, settings, model).version)
        model = registry.current(spark, settings)
        assert model is not None
        publish(settings, events)
        run_cli(settings, "stream", "--once", timeout=900)

        # Each part ran as an application of the cluster, its tasks in executors of its own.
        apps = sorted((tmp_path / "cluster" / "work").glob("app-*"))
        assert len(apps) == 2, apps
        assert all(list(app.glob("*/stderr")) for app in apps)

    pd.testing.assert_frame_equal(
        read_rfm(spark, settings)[expected.columns], expected, check_exact=True
    )
    check_segments(spark, settings, model, expected)
