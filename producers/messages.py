"""What producers hand to Kafka: a topic, key and value, with what the value is meant to be."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from segstream.contracts.events import Event

Topic = Literal["transactions", "customers"]
TRANSACTIONS: Final = "transactions"
CUSTOMERS: Final = "customers"

EVENT: Final = "event"
PROFILE: Final = "profile"


@dataclass(frozen=True, slots=True)
class Message:
    """One message to publish.

    Attributes:
        topic: logical topic; the settings name the real Kafka topic.
        key: the Kafka key, the customer id in UTF-8.
        value: the exact bytes to send.
        time: the simulated (or replayed) time the message belongs to.
        kind: `event`, `profile` or the bad kind (see `producers.bad_events.BadKind`).
        reason: for a bad message, the quarantine reason the stream must give it
            (or `duplicate`); None for a valid message.
        event: the valid event, or the one a bad message was made from.
    """

    topic: Topic
    key: bytes
    value: bytes
    time: datetime
    kind: str
    reason: str | None = None
    event: Event | None = None
