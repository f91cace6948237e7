"""Broker reachability and the topics segstream needs (embedded broker or external cluster)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

from segstream.config import Settings
from segstream.runtime.errors import BrokerError

log = logging.getLogger(__name__)


def _admin(settings: Settings, timeout_ms: int) -> Any:
    return KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        client_id="segstream-admin",
        request_timeout_ms=timeout_ms,
        bootstrap_timeout_ms=timeout_ms,
        **settings.kafka_client_options(),
    )


def broker_answers(settings: Settings, timeout_ms: int = 2000) -> bool:
    """True when the cluster answers a metadata request."""
    try:
        admin = _admin(settings, timeout_ms)
    except (KafkaError, OSError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        with contextlib.suppress(Exception):
            admin.close()


def topic_specs(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        settings.topic_transactions: {"num_partitions": settings.topic_partitions},
        # Latest profile per customer id is all anyone needs: compaction keeps exactly that.
        settings.topic_customers: {
            "num_partitions": settings.topic_partitions,
            "configs": {"cleanup.policy": "compact"},
        },
        settings.topic_segment_changes: {"num_partitions": settings.topic_partitions},
        # Compacted: the latest record of every customer the stream holds stays, which is
        # the list a model switch re-scores.
        settings.topic_customer_scores: {
            "num_partitions": settings.topic_partitions,
            "configs": {"cleanup.policy": "compact"},
        },
        settings.topic_segment_control: {"num_partitions": settings.topic_partitions},
    }


def ensure_topics(settings: Settings) -> list[str]:
    """Creates the missing topics; returns the names it created."""
    admin = _admin(settings, 30_000)
    try:
        existing = set(admin.list_topics())
        missing = {n: s for n, s in topic_specs(settings).items() if n not in existing}
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing, wait_for_metadata=True)
            log.info("created topics %s", ", ".join(sorted(missing)))
        return sorted(missing)
    finally:
        admin.close()


def recreate_topics(settings: Settings, names: Iterable[str], timeout_s: float = 60.0) -> None:
    """Deletes the topics `names` (those that exist) and creates them again, empty.

    Raises:
        BrokerError: the broker has not finished deleting them within `timeout_s`.
    """
    specs = topic_specs(settings)
    wanted = {name: specs[name] for name in names}
    admin = _admin(settings, 30_000)
    try:
        present = set(admin.list_topics()) & set(wanted)
        if present:
            admin.delete_topics(sorted(present))
        # A deletion is asynchronous: a create before it has finished is refused.
        deadline = time.monotonic() + timeout_s
        while set(admin.list_topics()) & present:
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"the broker has not deleted {', '.join(sorted(present))} in {timeout_s:.0f} s"
                )
            time.sleep(0.2)
        for attempt in range(50):
            try:
                admin.create_topics(wanted, wait_for_metadata=True)
                break
            except TopicAlreadyExistsError:
                # Listed as gone, still being removed from the log directories.
                if attempt == 49:
                    raise
                time.sleep(0.2)
        log.info("recreated topics %s", ", ".join(sorted(wanted)))
    finally:
        admin.close()


def _offsets_consumer(settings: Settings) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id="segstream-offsets",
        group_id=None,
        enable_auto_commit=False,
        **settings.kafka_client_options(),
    )


def first_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """The first offset each partition of `topic` still holds (above 0 once retention or
    compaction removed something)."""
    consumer = _offsets_consumer(settings)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        firsts = consumer.beginning_offsets([TopicPartition(topic, p) for p in parts])
        return {tp.partition: int(offset) for tp, offset in firsts.items()}
    finally:
        consumer.close()


def end_offsets(
    settings: Settings, partitions: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """The current end offset of each (topic, partition)."""
    consumer = _offsets_consumer(settings)
    try:
        ends = consumer.end_offsets([TopicPartition(t, p) for t, p in partitions])
        return {(tp.topic, tp.partition): int(offset) for tp, offset in ends.items()}
    finally:
        consumer.close()
