"""`segstream simulate` against the real broker: every message arrives exactly once, and every
valid one satisfies the contract."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from producers.messages import CUSTOMERS, TRANSACTIONS
from producers.publisher import DeliveryError, Publisher
from producers.simulator import Simulator, SimulatorOptions
from segstream.config import LOOPBACK, Settings
from segstream.contracts.events import EVENT_TYPES
from segstream.runtime.processes import free_port
from tests.conftest import make_settings, on_broker
from tests.integration.helpers import run_cli

pytestmark = pytest.mark.integration

EVENTS = 3000


def _consume_all(settings: Settings, topic: str) -> list[tuple[bytes, bytes]]:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        **settings.kafka_client_options(),
    )
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        out: list[tuple[bytes, bytes]] = []
        while any(consumer.position(p) < end[p] for p in parts):
            for records in consumer.poll(timeout_ms=1000).values():
                out.extend((r.key, r.value) for r in records)
        return out
    finally:
        consumer.close()


def test_every_simulated_message_arrives_once(broker_settings: Settings, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        **on_broker(broker_settings),
        topic_transactions="sim-tx",
        topic_customers="sim-customers",
    )
    run_cli(settings, "topics")
    run_cli(
        settings,
        "simulate",
        "--speed",
        "max",
        "--max-events",
        str(EVENTS),
        "--customers",
        "300",
        "--seed",
        "3",
        "--bad-rate",
        "0.02",
    )

    # The same options regenerate the same messages, up to the produced_at stamp.
    expected: dict[str, Counter[bytes]] = {TRANSACTIONS: Counter(), CUSTOMERS: Counter()}
    reasons: dict[bytes, str | None] = {}
    simulator = Simulator(SimulatorOptions(customers=300, seed=3, bad_rate=0.02))
    while sum(expected[TRANSACTIONS].values()) < EVENTS:
        message = next(simulator)
        body = _unstamped(message.key, message.value)
        expected[message.topic][body] += 1
        reasons[body] = message.reason

    transactions = Counter(_unstamped(k, v) for k, v in _consume_all(settings, "sim-tx"))
    profiles = Counter(_unstamped(k, v) for k, v in _consume_all(settings, "sim-customers"))
    assert transactions == expected[TRANSACTIONS]
    assert profiles == expected[CUSTOMERS]
    assert all(n == 1 for n in profiles.values())
    assert {r for r in reasons.values() if r} >= {"duplicate", "invalid_json", "missing_field"}

    valid = [m for m in transactions if reasons[m] is None]
    assert len(valid) > EVENTS * 0.9
    for message in valid:
        key, value = message.split(b"|", 1)
        _check_contract(key, json.loads(value, parse_float=Decimal))


def _unstamped(key: bytes, value: bytes) -> bytes:
    return key + b"|" + re.sub(rb'"produced_at":"[^"]*"', b'"produced_at":""', value)


def _check_contract(key: bytes, event: dict[str, object]) -> None:
    assert key.decode() == event["customer_id"] != ""
    for field in ("event_id", "order_id", "customer_id"):
        assert isinstance(event[field], str) and event[field]
    assert event["event_type"] in EVENT_TYPES
    when = datetime.fromisoformat(str(event["event_time"]))
    assert when.utcoffset() is not None and when < datetime.now(UTC)
    amount = event["amount"]
    assert (
        isinstance(amount, Decimal) and amount >= 0 and amount == amount.quantize(Decimal("0.01"))
    )
    if event["event_type"] == "purchase":
        items = event["items"]
        assert isinstance(items, list) and items
        assert all(isinstance(i["quantity"], int) and i["quantity"] > 0 for i in items)
        assert sum(i["unit_price"] * i["quantity"] for i in items) == amount


def test_unreachable_or_refusing_cluster_is_named(
    broker_settings: Settings, tmp_path: Path
) -> None:
    nobody = f"{LOOPBACK}:{free_port(LOOPBACK)}"
    with pytest.raises(DeliveryError, match=f"Kafka at {nobody} did not answer.*refused"):
        Publisher(make_settings(tmp_path, kafka_bootstrap=nobody), connect_timeout_s=2)
    wrong = {**on_broker(broker_settings), "kafka_sasl_password": "not-the-password"}
    with pytest.raises(DeliveryError, match="SASL authentication error"):
        Publisher(make_settings(tmp_path, **wrong), connect_timeout_s=5)
