"""The one settings object: every path, host, port, topic and interval of segstream.

Values come from (highest first) CLI flags, `SEGSTREAM_*` environment variables and the
defaults below. Settings are frozen and validated once at start; a bad value fails with a
message naming the setting.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

LOOPBACK = "127.0.0.1"


def _default_jar_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "segstream" / "jars"


class ConfigError(ValueError):
    """A setting has a value segstream cannot use."""


class Settings(BaseSettings):
    """Effective configuration of every segstream process."""

    model_config = SettingsConfigDict(
        env_prefix="SEGSTREAM_", frozen=True, extra="forbid", validate_default=True
    )

    lake: Path = Field(Path("./lake"), description="Delta tables and stream checkpoints")
    home: Path = Field(Path("./.segstream"), description="runtime state: broker data, pids, logs")
    jars: Path = Field(
        default_factory=_default_jar_cache, description="JVM jar cache shared by every home"
    )
    maven_repo: str = Field(
        "https://repo1.maven.org/maven2/", description="Maven repository the jars come from"
    )

    kafka_bootstrap: str | None = Field(
        None, description="external Kafka cluster (host:port,...); unset = embedded broker"
    )
    kafka_host: str = Field(LOOPBACK, description="address the embedded broker binds to")
    kafka_port: int = Field(9092, ge=1, le=65535, description="embedded broker port")
    kafka_controller_port: int = Field(
        9093, ge=1, le=65535, description="embedded KRaft controller port"
    )
    kafka_version: str = Field("4.3.1", description="embedded broker version (Maven)")
    kafka_heap_mb: int = Field(512, ge=128, description="embedded broker JVM heap")
    kafka_start_timeout_s: float = Field(90.0, gt=0, description="wait for broker readiness")
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None

    topic_transactions: str = Field("transactions", min_length=1)
    topic_customers: str = Field("customers", min_length=1)
    topic_partitions: int = Field(2, ge=1, description="partitions of new topics")

    spark_master: str = Field("local[2]", description="Spark master when not under spark-submit")
    spark_shuffle_partitions: int = Field(2, ge=1)
    spark_driver_memory: str = "2g"
    spark_ui: bool = False
    trigger_interval_s: float = Field(1.0, gt=0, description="micro-batch trigger interval")
    max_offsets_per_trigger: int = Field(100_000, ge=1, description="backpressure per batch")

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.kafka_port == self.kafka_controller_port:
            raise ValueError("kafka_port and kafka_controller_port must differ")
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                "kafka_security_protocol SASL_* needs kafka_sasl_mechanism, "
                "kafka_sasl_username and kafka_sasl_password"
            )
        if self.kafka_ssl_cafile is not None and not self.kafka_ssl_cafile.is_file():
            raise ValueError(f"kafka_ssl_cafile {self.kafka_ssl_cafile} is not a file")
        return self

    @property
    def embedded_kafka(self) -> bool:
        return self.kafka_bootstrap is None

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap or f"{self.kafka_host}:{self.kafka_port}"

    def table_path(self, table: str) -> Path:
        return (self.lake / "tables" / table).resolve()

    def checkpoint_path(self, query: str) -> Path:
        return (self.lake / "checkpoints" / query).resolve()

    def kafka_client_options(self) -> dict[str, Any]:
        """Security options for kafka-python clients."""
        opts: dict[str, Any] = {"security_protocol": self.kafka_security_protocol}
        if self.kafka_sasl_mechanism:
            opts["sasl_mechanism"] = self.kafka_sasl_mechanism
            opts["sasl_plain_username"] = self.kafka_sasl_username
            if self.kafka_sasl_password is not None:
                opts["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        if self.kafka_ssl_cafile:
            opts["ssl_cafile"] = str(self.kafka_ssl_cafile)
        return opts

    def spark_kafka_options(self) -> dict[str, str]:
        """The same security options in the form Spark's Kafka source takes."""
        opts = {
            "kafka.bootstrap.servers": self.bootstrap_servers,
            "kafka.security.protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism and self.kafka_sasl_password is not None:
            module = (
                "org.apache.kafka.common.security.plain.PlainLoginModule"
                if self.kafka_sasl_mechanism == "PLAIN"
                else "org.apache.kafka.common.security.scram.ScramLoginModule"
            )
            secret = self.kafka_sasl_password.get_secret_value()
            opts["kafka.sasl.mechanism"] = self.kafka_sasl_mechanism
            opts["kafka.sasl.jaas.config"] = (
                f'{module} required username="{self.kafka_sasl_username}" password="{secret}";'
            )
        if self.kafka_ssl_cafile:
            opts["kafka.ssl.truststore.type"] = "PEM"
            opts["kafka.ssl.truststore.location"] = str(self.kafka_ssl_cafile)
        return opts

    def masked(self) -> dict[str, Any]:
        """Settings as plain values, secrets replaced by asterisks."""
        return self.model_dump(mode="json")


def load_settings(**overrides: Any) -> Settings:
    """Builds the settings from the environment plus CLI overrides (None means "not given").

    Raises:
        ConfigError: naming each setting whose value is invalid.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "settings"
            if err["loc"] and "password" not in name:
                problems.append(f"SEGSTREAM_{name.upper()}: {err['msg']} (got {err['input']!r})")
            else:
                problems.append(f"{name}: {err['msg']}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from None
