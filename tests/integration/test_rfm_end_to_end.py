"""The first end-to-end slice: produce to the real broker, `stream --once`, compare customer_rfm
with an independent pandas computation over exactly what was produced."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from producers.generator import GeneratorOptions, generate
from producers.publisher import Publisher
from segstream.config import Settings
from segstream.contracts import tables
from segstream.contracts.events import Event
from tests.conftest import make_settings
from tests.integration.helpers import run_cli

pytestmark = pytest.mark.integration


def expected_rfm(events: list[Event]) -> pd.DataFrame:
    rows = [
        {
            "customer_id": e.customer_id,
            "type": e.event_type,
            "order_id": e.order_id,
            "time": pd.Timestamp(e.event_time).tz_convert("UTC").tz_localize(None),
            "amount": e.amount,
            "qty": sum(i.quantity for i in e.items),
        }
        for e in events
    ]
    df = pd.DataFrame(rows)
    out = []
    for customer, g in df.groupby("customer_id"):
        buys = g[g["type"] == "purchase"]
        rets = g[g["type"] == "return"]
        gross = sum(buys["amount"], Decimal("0.00"))
        returned = sum(rets["amount"], Decimal("0.00"))
        out.append(
            {
                "customer_id": customer,
                "first_purchase_at": buys["time"].min() if len(buys) else pd.NaT,
                "last_purchase_at": buys["time"].max() if len(buys) else pd.NaT,
                "orders": buys["order_id"].nunique(),
                "gross_revenue": gross,
                "returns_amount": returned,
                "monetary": gross - returned,
                "items": int(buys["qty"].sum()),
                "last_event_at": g["time"].max(),
            }
        )
    return pd.DataFrame(out).set_index("customer_id").sort_index()


def read_rfm(spark, settings: Settings) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    df = spark.read.format("delta").load(str(settings.table_path(tables.CUSTOMER_RFM)))
    pdf = df.drop("updated_at").toPandas().set_index("customer_id").sort_index()
    for col in ("first_purchase_at", "last_purchase_at", "last_event_at"):
        pdf[col] = pd.to_datetime(pdf[col]).astype("datetime64[us]")
    return pdf


def test_customer_rfm_matches_pandas_to_the_cent_and_microsecond(
    broker_settings: Settings,
    spark,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings = make_settings(
        tmp_path,
        kafka_port=broker_settings.kafka_port,
        kafka_controller_port=broker_settings.kafka_controller_port,
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
    expected = expected.astype({"orders": "int64", "items": "int64"})
    for col in ("first_purchase_at", "last_purchase_at", "last_event_at"):
        expected[col] = expected[col].astype("datetime64[us]")
    pd.testing.assert_frame_equal(actual[expected.columns], expected, check_exact=True)
    events_count = spark.read.format("delta").load(str(settings.table_path(tables.EVENTS))).count()
    assert events_count == 2000
