"""Publishing to Kafka with delivery tracked: nothing is reported sent that the broker did not
acknowledge (acks=all, idempotent producer).

librdkafka (confluent-kafka) batches, compresses and sends in its own native threads: at 5,000
messages/s it costs the sending process ~0.05 core on top of building the messages, and one
process publishes ~6x what the simulator generates (bench/RESULTS.md, "Producing to Kafka");
kafka-python's pure-Python send path shared the generating thread and halved `simulate`."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from segstream.config import Settings
from segstream.contracts.events import Event
from segstream.errors import SegstreamError

log = logging.getLogger(__name__)

# How long a full local queue is waited on before trying to enqueue again.
_QUEUE_FULL_WAIT_S = 0.1


class DeliveryError(SegstreamError):
    """The broker did not acknowledge some messages, or could not be reached."""


class Publisher:
    """A tuned librdkafka producer for the `transactions` and `customers` topics.

    Raises:
        DeliveryError: the cluster did not answer at the bootstrap address (unreachable, or
            the credentials were refused).
    """

    def __init__(self, settings: Settings, connect_timeout_s: float = 15.0) -> None:
        self._last_client_error = ""
        self._producer = Producer(
            {
                "bootstrap.servers": settings.bootstrap_servers,
                "client.id": "segstream-producer",
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 20,
                "batch.size": 256 * 1024,
                "compression.type": "lz4",
                "max.in.flight.requests.per.connection": 5,
                # librdkafka would log each failed connection attempt (~20 a second while a
                # broker is down); its errors come to `_client_error` instead.
                "log_level": 2,
                "error_cb": self._client_error,
                **settings.librdkafka_options(),
            }
        )
        self._wait_for_cluster(settings.bootstrap_servers, connect_timeout_s)
        self._topic = settings.topic_transactions
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self._first_error: KafkaError | None = None

    def _wait_for_cluster(self, bootstrap: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._producer.list_topics(timeout=1.0)
                return
            except KafkaException as exc:
                self._producer.poll(0)  # serves `_client_error` with what went wrong
                if time.monotonic() >= deadline:
                    raise DeliveryError(
                        f"Kafka at {bootstrap} did not answer within {timeout_s:g} s "
                        f"({self._last_client_error or exc.args[0].str()}): start a broker "
                        "(`segstream kafka start`) or check SEGSTREAM_KAFKA_BOOTSTRAP and the "
                        "SEGSTREAM_KAFKA_SASL_* settings"
                    ) from None

    def _client_error(self, error: KafkaError) -> None:
        # The same error comes once per reconnection attempt: it is logged once in a row.
        text = error.str()
        if text != self._last_client_error:
            self._last_client_error = text
            log.warning("Kafka client: %s", text)

    def _delivered(self, error: KafkaError | None, _message: Message) -> None:
        if error is None:
            self.acked += 1
            return
        self.failed += 1
        if self._first_error is None:
            self._first_error = error
            log.error("delivery failed: %s", error)

    def send_raw(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, on_delivery=self._delivered)
                break
            except BufferError:
                # The local queue is full: serve deliveries until there is room.
                self._producer.poll(_QUEUE_FULL_WAIT_S)
        # Serves the delivery callbacks of what the broker has acknowledged so far.
        self._producer.poll(0)
        self.sent += 1

    def send_event(self, event: Event, produced_at: datetime | None = None) -> None:
        self.send_raw(self._topic, event.key(), event.encode(produced_at or datetime.now(UTC)))

    def flush(self) -> None:
        """Blocks until every sent message is acknowledged or has failed for good.

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
