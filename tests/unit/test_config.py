from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from confluent_kafka import Producer

from cli.main import main
from segstream.config import ConfigError, load_settings

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("no_segstream_env")]


def test_defaults_follow_the_documented_names() -> None:
    s = load_settings()
    assert s.lake == Path("./lake")
    assert s.home == Path("./.segstream")
    assert s.embedded_kafka
    assert s.bootstrap_servers == "127.0.0.1:9092"
    assert (
        s.checkpoint_path("transactions")
        == (Path("lake") / "checkpoints" / "transactions").resolve()
    )


def test_environment_is_read_and_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGSTREAM_LAKE", "/data/lake")
    monkeypatch.setenv("SEGSTREAM_KAFKA_PORT", "19092")
    monkeypatch.setenv("SEGSTREAM_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    s = load_settings(kafka_port=29092, lake=None)
    assert s.lake == Path("/data/lake")
    assert s.kafka_port == 29092
    assert not s.embedded_kafka
    assert s.bootstrap_servers == "k1:9092,k2:9092"
    assert s.spark_kafka_options()["kafka.bootstrap.servers"] == "k1:9092,k2:9092"


def test_bad_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGSTREAM_KAFKA_PORT", "ninety")
    with pytest.raises(ConfigError, match="SEGSTREAM_KAFKA_PORT"):
        load_settings()


def test_a_lake_uri_is_refused_not_made_a_local_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGSTREAM_LAKE", "s3a://bucket/lake")
    with pytest.raises(ConfigError, match=r"SEGSTREAM_LAKE.*'s3a://bucket/lake' is a URI"):
        load_settings()
    monkeypatch.setenv("SEGSTREAM_LAKE", "data/lake")
    assert load_settings().lake == Path("data/lake")


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(ConfigError, match="SEGSTREAM_KAFKA_PROT"):
        load_settings(kafka_prot=1)


def test_sasl_needs_credentials_and_secrets_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="kafka_sasl_mechanism"):
        load_settings(kafka_bootstrap="k1:9092", kafka_security_protocol="SASL_SSL")
    with pytest.raises(ConfigError, match="for an external cluster"):
        load_settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="app")
    s = load_settings(
        kafka_bootstrap="k1:9092",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="app",
        kafka_sasl_password="hunter2",
    )
    assert "hunter2" not in json.dumps(s.masked())
    assert s.kafka_client_options()["sasl_plain_password"] == "hunter2"
    assert 'password="hunter2"' in s.spark_kafka_options()["kafka.sasl.jaas.config"]
    rdkafka = s.librdkafka_options()
    assert rdkafka == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "app",
        "sasl.password": "hunter2",
    }
    # librdkafka refuses an unknown or unsupported property when the client is created.
    Producer({"bootstrap.servers": "k1:9092", **rdkafka}).close()


def test_config_command_prints_masked_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SEGSTREAM_KAFKA_BOOTSTRAP", "k1:9092")
    monkeypatch.setenv("SEGSTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("SEGSTREAM_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("SEGSTREAM_KAFKA_SASL_USERNAME", "app")
    monkeypatch.setenv("SEGSTREAM_KAFKA_SASL_PASSWORD", "hunter2")
    assert main(["config", "--kafka-port", "19092"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["kafka_port"] == 19092
    assert printed["kafka_sasl_password"] == "**********"


def test_cli_reports_a_bad_setting_with_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SEGSTREAM_TOPIC_PARTITIONS", "0")
    assert main(["config"]) == 2
    assert "SEGSTREAM_TOPIC_PARTITIONS" in capsys.readouterr().err


def test_child_processes_get_exactly_these_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(
        kafka_port=19092,
        lake=Path("rel/lake"),
        model_features=("recency_days", "frequency", "monetary", "tenure_days"),
        kafka_bootstrap="k1:9092",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="app",
        kafka_sasl_password="hunter2",
    )
    for key, value in settings.to_env().items():
        if key.startswith("SEGSTREAM_"):
            monkeypatch.setenv(key, value)
    again = load_settings()
    assert again.model_dump(exclude={"kafka_sasl_password"}) == settings.model_dump(
        exclude={"kafka_sasl_password"}
    ) | {"lake": Path("rel/lake").resolve(), "home": Path(".segstream").resolve()}
    assert again.kafka_sasl_password is not None
    assert again.kafka_sasl_password.get_secret_value() == "hunter2"


def test_monitor_settings_and_a_port_clash_with_the_broker() -> None:
    s = load_settings()
    assert (s.monitor_host, s.monitor_port) == ("127.0.0.1", 8501)
    with pytest.raises(ConfigError, match="monitor_port must differ"):
        load_settings(monitor_port=9092)


def test_monitor_refuses_a_taken_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["monitor", "--monitor-port", str(port)]) == 1
    assert f"port {port} on 127.0.0.1 is already in use" in capsys.readouterr().err
