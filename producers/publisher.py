"""Publishing to Kafka with delivery tracked: nothing is reported sent that the broker did not
acknowledge (acks=all, idempotent producer)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaProducer

from segstream.config import Settings
from segstream.contracts.events import Event
from segstream.errors import SegstreamError

log = logging.getLogger(__name__)


class DeliveryError(SegstreamError):
    """The broker did not acknowledge some messages."""


class Publisher:
    """A tuned kafka-python producer for the `transactions` and `customers` topics."""

    def __init__(self, settings: Settings, **overrides: Any) -> None:
        options: dict[str, Any] = {
            "bootstrap_servers": settings.bootstrap_servers,
            "client_id": "segstream-producer",
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": 20,
            "batch_size": 256 * 1024,
            "compression_type": "lz4",
            "max_in_flight_requests_per_connection": 5,
            **settings.kafka_client_options(),
            **overrides,
        }
        self._producer = KafkaProducer(**options)
        self._topic = settings.topic_transactions
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self._first_error: BaseException | None = None

    def _ok(self, _meta: Any) -> None:
        self.acked += 1

    def _err(self, exc: BaseException) -> None:
        self.failed += 1
        if self._first_error is None:
            self._first_error = exc
            log.error("delivery failed: %s", exc)

    def send_raw(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        future = self._producer.send(topic, key=key, value=value)
        future.add_callback(self._ok)
        future.add_errback(self._err)
        self.sent += 1

    def send_event(self, event: Event, produced_at: datetime | None = None) -> None:
        self.send_raw(self._topic, event.key(), event.encode(produced_at or datetime.now(UTC)))

    def flush(self) -> None:
        """Blocks until every sent message is acknowledged.

        Raises:
            DeliveryError: some messages were not acknowledged by the broker.
        """
        self._producer.flush()
        if self.failed:
            raise DeliveryError(
                f"{self.failed} of {self.sent} messages were not delivered: {self._first_error}"
            )

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._producer.close()
