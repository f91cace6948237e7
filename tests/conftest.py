"""Shared fixtures: one real broker and one local SparkSession per test session, each on free
ports and temporary folders, started by segstream's own runtime code."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from segstream.config import EMBEDDED_KAFKA_USER, LOOPBACK, Settings, load_settings
from segstream.runtime.processes import free_port


def make_settings(root: Path, **overrides: object) -> Settings:
    """Settings isolated under `root`, with free broker and monitor ports; jars stay in the
    shared cache."""
    port = free_port(LOOPBACK)
    controller = free_port(LOOPBACK)
    while controller == port:
        controller = free_port(LOOPBACK)
    monitor = free_port(LOOPBACK)
    while monitor in (port, controller):
        monitor = free_port(LOOPBACK)
    values: dict[str, object] = {
        "lake": root / "lake",
        "home": root / "home",
        "kafka_port": port,
        "kafka_controller_port": controller,
        "monitor_port": monitor,
    }
    values.update(overrides)
    # Tests sharing the session's broker name their own topics; the stream's internal ones
    # follow the transactions topic's name so that no two tests share them.
    tx = values.get("topic_transactions")
    if tx is not None:
        for field, suffix in (
            ("topic_customer_scores", "scores"),
            ("topic_segment_control", "control"),
            ("topic_segment_changes", "changes"),
        ):
            values.setdefault(field, f"{tx}-{suffix}")
    return load_settings(**values)


def on_broker(broker: Settings) -> dict[str, object]:
    """Settings that reach the session's broker as an external cluster, with its password."""
    return {
        "kafka_bootstrap": broker.bootstrap_servers,
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_mechanism": "PLAIN",
        "kafka_sasl_username": EMBEDDED_KAFKA_USER,
        "kafka_sasl_password": broker.broker_secret_path().read_text().strip(),
    }


@pytest.fixture(scope="session")
def session_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("segstream")


@pytest.fixture(scope="session")
def broker_settings(session_root: Path) -> Iterator[Settings]:
    """Settings of the session's broker, which is started once and stopped at the end."""
    from segstream.runtime import kafka_broker, topics

    settings = make_settings(session_root)
    kafka_broker.start(settings)
    topics.ensure_topics(settings)
    yield settings
    kafka_broker.stop(settings)


@pytest.fixture(scope="session")
def spark(session_root: Path):  # type: ignore[no-untyped-def]
    from segstream.spark_session import get_spark

    session = get_spark(make_settings(session_root / "spark"), "segstream-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def monitor_lake_settings(spark, session_root: Path) -> Settings:  # type: ignore[no-untyped-def]
    """Settings whose lake holds the known tables of `tests.monitor_lake` (built once)."""
    from tests import monitor_lake

    settings = make_settings(session_root / "monitor")
    monitor_lake.build(spark, settings)
    return settings


@pytest.fixture
def no_segstream_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SEGSTREAM_"):
            monkeypatch.delenv(key)
