"""The embedded broker's lifecycle, with its own home and ports (not the session broker)."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from segstream.config import EMBEDDED_KAFKA_USER, Settings
from segstream.runtime import kafka_broker, topics
from segstream.runtime.errors import BrokerError
from segstream.runtime.processes import pid_alive, wait_for
from tests.conftest import make_settings

pytestmark = pytest.mark.integration


def test_restart_after_kill_keeps_topics(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, topic_transactions="survivor")
    first = kafka_broker.start(settings)
    try:
        assert topics.ensure_topics(settings) == [
            "customers",
            "survivor",
            "survivor-changes",
            "survivor-control",
            "survivor-scores",
        ]
        again = kafka_broker.start(settings)
        assert again.pid == first.pid, "a second start must find the running broker"

        assert first.pid is not None
        os.kill(first.pid, signal.SIGKILL)
        assert wait_for(lambda: not pid_alive(first.pid), 10)
        assert not kafka_broker.status(settings).running

        restarted = kafka_broker.start(settings)
        assert restarted.running and restarted.pid != first.pid
        assert topics.ensure_topics(settings) == [], "topics must survive the kill"
    finally:
        kafka_broker.stop(settings)
    assert not kafka_broker.status(settings).running
    assert not kafka_broker.stop(settings)


def test_port_taken_by_another_program_is_named(tmp_path: Path) -> None:
    import socket

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        settings = make_settings(tmp_path, kafka_port=port)
        with pytest.raises(BrokerError, match=f"port 127.0.0.1:{port} is in use"):
            kafka_broker.start(settings)


def test_external_cluster_runs_no_broker(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, kafka_bootstrap="kafka.example:9092")
    with pytest.raises(BrokerError, match="SEGSTREAM_KAFKA_BOOTSTRAP"):
        kafka_broker.start(settings)


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "PLAIN",
            "sasl_plain_username": EMBEDDED_KAFKA_USER,
            "sasl_plain_password": "guess",
        },
    ],
    ids=["no password", "a wrong password"],
)
def test_only_a_client_with_the_password_gets_in(
    broker_settings: Settings, credentials: dict[str, str]
) -> None:
    secret = broker_settings.broker_secret_path()
    properties = kafka_broker.BrokerPaths(broker_settings).properties
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(properties.stat().st_mode) == 0o600
    with pytest.raises(KafkaError):
        admin = KafkaAdminClient(
            bootstrap_servers=broker_settings.bootstrap_servers,
            request_timeout_ms=3000,
            bootstrap_timeout_ms=3000,
            **credentials,
        )
        admin.list_topics()
    assert topics.broker_answers(broker_settings)
