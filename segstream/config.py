"""The one settings object: every path, host, port, topic and interval of segstream.

Values come from (highest first) CLI flags, `SEGSTREAM_*` environment variables and the
defaults below. Settings are frozen and validated once at start; a bad value fails with a
message naming the setting.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from segstream.errors import SegstreamError

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
# The one user of the embedded broker; its password is made per home.
EMBEDDED_KAFKA_USER = "segstream"
# The segmentation features segstream.model.features defines (kept as names here so that
# loading settings does not import Spark; a unit test checks the two lists agree).
FeatureName = Literal["recency_days", "frequency", "monetary", "avg_order_value", "tenure_days"]
EngineChoice = Literal["auto", "sklearn", "spark"]

LOOPBACK = "127.0.0.1"


def _default_jar_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "segstream" / "jars"


class ConfigError(SegstreamError, ValueError):
    """A setting has a value segstream cannot use."""

    exit_code = 2


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
    topic_segment_changes: str = Field(
        "segment-changes", min_length=1, description="the segment feed segstream publishes"
    )
    topic_customer_scores: str = Field(
        "customer-scores",
        min_length=1,
        description="the stream's own: each customer's totals and segment after every change",
    )
    topic_segment_control: str = Field(
        "segment-control",
        min_length=1,
        description="re-score requests (aging, retrain) the stream acts on",
    )
    topic_partitions: int = Field(2, ge=1, description="partitions of new topics")

    spark_master: str = Field("local[2]", description="Spark master when not under spark-submit")
    spark_shuffle_partitions: int = Field(2, ge=1)
    spark_driver_memory: str = "2g"
    spark_hot_cores: int = Field(
        1,
        ge=1,
        description="cores the stream's hot part takes of a Spark cluster (spark.cores.max of "
        "its application; a local master ignores it)",
    )
    spark_lake_cores: int = Field(
        1, ge=1, description="cores the stream's lake part takes of a Spark cluster"
    )
    spark_ui: bool = False
    trigger_interval_s: float = Field(
        1.0, gt=0, description="micro-batch trigger interval of the queries that write Delta"
    )
    hot_trigger_interval_s: float = Field(
        0.0,
        ge=0,
        description="micro-batch trigger interval of the customer-state query (the way to the "
        "segment feed); 0 starts the next batch as soon as the last one ends",
    )
    max_offsets_per_trigger: int = Field(100_000, ge=1, description="backpressure per batch")
    as_of_max_ahead_h: float = Field(
        48.0,
        ge=0,
        description="a re-score as-of may lie at most this far past the newest event time "
        "(`rescore --as-of`) or past the time the broker took the request (the stream "
        "quarantines it otherwise)",
    )
    background_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="CPU niceness of the stream's lake part (the Delta writes behind the hot "
        "path), so the way to the segment feed gets the cores first",
    )

    # Batch side: K-Means retraining.
    model_features: tuple[FeatureName, ...] = Field(
        ("recency_days", "frequency", "monetary"),
        description="features the model clusters on; must include recency, frequency, monetary",
    )
    retrain_k_min: int = Field(2, ge=2, description="smallest k tried")
    retrain_k_max: int = Field(10, ge=2, description="largest k tried")
    retrain_restarts: int = Field(3, ge=1, description="k-means restarts per k, best kept")
    retrain_max_iter: int = Field(100, ge=1, description="k-means iterations per restart")
    retrain_seed: int = Field(0, description="random seed of initialisation and sampling")
    retrain_engine: EngineChoice = Field("auto", description="auto picks by row count")
    retrain_spark_min_rows: int = Field(
        5_000_000, ge=1, description="auto engine: Spark ML from this many customers on"
    )
    retrain_silhouette_sample: int = Field(
        4_000, ge=100, description="rows sampled for the silhouette of each k"
    )
    identity_max_distance: float = Field(
        1.0, gt=0, description="largest centroid distance (new model's std units) that matches"
    )
    # Batch side: classic RFM scores, profiles, drift.
    rfm_frequency_threshold: int = Field(
        5, ge=1, description="orders below this are 'Low Frequency'"
    )
    profile_top_categories: int = Field(5, ge=1, description="top categories kept per segment")
    profile_window_days: int = Field(
        90, ge=1, description="days of events before as-of that profiles read"
    )
    drift_bins: int = Field(10, ge=2, description="quantile bins of the feature PSI")
    drift_warn: float = Field(0.1, gt=0, description="PSI from which drift warns")
    drift_alert: float = Field(0.25, gt=0, description="PSI from which drift alerts")
    centroid_shift_warn: float = Field(
        0.5, gt=0, description="centroid shift (std units) from which drift warns"
    )
    centroid_shift_alert: float = Field(
        1.0, gt=0, description="centroid shift (std units) from which drift alerts"
    )
    # Batch side: scheduler.
    schedule_retrain_s: float = Field(3600.0, gt=0, description="retrain every this many s")
    schedule_rescore_s: float = Field(600.0, gt=0, description="rescore every this many s")
    schedule_snapshot_s: float = Field(300.0, gt=0, description="snapshot + drift every s")
    schedule_compact_s: float = Field(
        900.0, gt=0, description="compact the lake's tables every this many s"
    )
    compact_retention_h: float = Field(
        168.0,
        ge=0,
        description="VACUUM after compaction deletes replaced files older than this many hours "
        "(below Delta's 168, its guard is lifted for that VACUUM: time travel past the "
        "retention and readers of older versions may find files gone)",
    )
    schedule_retry_s: float = Field(60.0, gt=0, description="retry a failed job after s")
    schedule_min_customers: int = Field(
        100, ge=2, description="customers needed before the first model is trained"
    )
    verify_show: int = Field(20, ge=1, description="differing customers `verify` lists")
    # The Streamlit monitor.
    monitor_host: str = Field(LOOPBACK, description="address the monitor's web server binds to")
    monitor_port: int = Field(8501, ge=1, le=65535, description="port of the monitor")
    monitor_refresh_s: float = Field(
        5.0, gt=0, description="the monitor re-reads the tables every this many seconds"
    )
    monitor_window_s: float = Field(
        3600.0, gt=0, description="how far back the monitor's stream and migration views look"
    )

    @field_validator("lake", "home", "jars", mode="before")
    @classmethod
    def _local_path(cls, value: object) -> object:
        # A Path would quietly make s3a://b/x the local folder ./s3a:/b/x.
        if isinstance(value, str) and "://" in value:
            raise ValueError(
                f"{value!r} is a URI; this must be a local folder (object storage is not "
                "supported yet)"
            )
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.kafka_port == self.kafka_controller_port:
            raise ValueError("kafka_port and kafka_controller_port must differ")
        if self.monitor_port in (self.kafka_port, self.kafka_controller_port):
            raise ValueError("monitor_port must differ from the embedded broker's ports")
        external = (
            self.kafka_security_protocol != "PLAINTEXT",
            self.kafka_sasl_mechanism,
            self.kafka_sasl_username,
            self.kafka_sasl_password,
            self.kafka_ssl_cafile,
        )
        if self.kafka_bootstrap is None and any(v for v in external):
            raise ValueError(
                "the kafka_security_protocol, kafka_sasl_* and kafka_ssl_cafile settings are "
                "for an external cluster (kafka_bootstrap); the embedded broker makes its own "
                "password"
            )
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                "kafka_security_protocol SASL_* needs kafka_sasl_mechanism, "
                "kafka_sasl_username and kafka_sasl_password"
            )
        if self.kafka_ssl_cafile is not None and not self.kafka_ssl_cafile.is_file():
            raise ValueError(f"kafka_ssl_cafile {self.kafka_ssl_cafile} is not a file")
        if self.retrain_k_min > self.retrain_k_max:
            raise ValueError("retrain_k_min must be <= retrain_k_max")
        missing = {"recency_days", "frequency", "monetary"} - set(self.model_features)
        if missing or len(set(self.model_features)) != len(self.model_features):
            raise ValueError(
                "model_features must list each feature once and include recency_days, "
                "frequency and monetary (segment names come from them)"
            )
        if self.drift_warn >= self.drift_alert:
            raise ValueError("drift_warn must be < drift_alert")
        if self.centroid_shift_warn >= self.centroid_shift_alert:
            raise ValueError("centroid_shift_warn must be < centroid_shift_alert")
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

    def stream_id_path(self, query: str) -> Path:
        """The lake's copy of a query's idempotency id (see `streaming.queries.app_id`)."""
        return (self.lake / "stream-ids" / query).resolve()

    def demo_status_path(self) -> Path:
        """Where the demo's supervisor tells what each of its processes is doing."""
        return (self.home / "demo-status.json").resolve()

    def broker_secret_path(self) -> Path:
        """The embedded broker's password for its clients (user `EMBEDDED_KAFKA_USER`), made
        at the broker's first start, readable by its owner only."""
        return (self.home / "kafka" / "client-secret").resolve()

    def _kafka_auth(self) -> tuple[str, str | None, str | None, str | None]:
        """(security protocol, SASL mechanism, username, password) of the cluster."""
        if self.embedded_kafka:
            try:
                secret = self.broker_secret_path().read_text().strip()
            except FileNotFoundError:
                # No broker has started in this home yet: there is nothing to talk to.
                return ("PLAINTEXT", None, None, None)
            return ("SASL_PLAINTEXT", "PLAIN", EMBEDDED_KAFKA_USER, secret)
        password = self.kafka_sasl_password
        return (
            self.kafka_security_protocol,
            self.kafka_sasl_mechanism,
            self.kafka_sasl_username,
            None if password is None else password.get_secret_value(),
        )

    def kafka_client_options(self) -> dict[str, Any]:
        """Security options for kafka-python clients."""
        protocol, mechanism, username, password = self._kafka_auth()
        opts: dict[str, Any] = {"security_protocol": protocol}
        if mechanism:
            opts["sasl_mechanism"] = mechanism
            opts["sasl_plain_username"] = username
            if password is not None:
                opts["sasl_plain_password"] = password
        if self.kafka_ssl_cafile:
            opts["ssl_cafile"] = str(self.kafka_ssl_cafile)
        return opts

    def librdkafka_options(self) -> dict[str, str]:
        """The same security options in the form librdkafka (confluent-kafka) takes."""
        protocol, mechanism, username, password = self._kafka_auth()
        opts = {"security.protocol": protocol}
        if mechanism:
            opts["sasl.mechanism"] = mechanism
            if username is not None:
                opts["sasl.username"] = username
            if password is not None:
                opts["sasl.password"] = password
        if self.kafka_ssl_cafile:
            opts["ssl.ca.location"] = str(self.kafka_ssl_cafile)
        return opts

    def spark_kafka_options(self) -> dict[str, str]:
        """The same security options in the form Spark's Kafka source takes."""
        protocol, mechanism, username, password = self._kafka_auth()
        opts = {
            "kafka.bootstrap.servers": self.bootstrap_servers,
            "kafka.security.protocol": protocol,
        }
        if mechanism and password is not None:
            module = (
                "org.apache.kafka.common.security.plain.PlainLoginModule"
                if mechanism == "PLAIN"
                else "org.apache.kafka.common.security.scram.ScramLoginModule"
            )
            opts["kafka.sasl.mechanism"] = mechanism
            opts["kafka.sasl.jaas.config"] = (
                f'{module} required username="{username}" password="{password}";'
            )
        if self.kafka_ssl_cafile:
            opts["kafka.ssl.truststore.type"] = "PEM"
            opts["kafka.ssl.truststore.location"] = str(self.kafka_ssl_cafile)
        return opts

    def masked(self) -> dict[str, Any]:
        """Settings as plain values, secrets replaced by asterisks."""
        return self.model_dump(mode="json")

    def to_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment that gives a child process exactly these settings.

        Args:
            base: the environment to start from (default: this process's); every
                `SEGSTREAM_*` variable in it is replaced, or removed where a setting is unset.
        """
        env = dict(os.environ if base is None else base)
        for name, value in self.model_dump().items():
            key = f"SEGSTREAM_{name.upper()}"
            if value is None:
                env.pop(key, None)
            elif isinstance(value, SecretStr):
                env[key] = value.get_secret_value()
            elif isinstance(value, Path):
                # Resolved: a child may run in another working directory.
                env[key] = str(value.resolve())
            elif isinstance(value, tuple | list | dict):
                # pydantic-settings reads complex values from the environment as JSON.
                env[key] = json.dumps(value)
            else:
                env[key] = str(value)
        return env


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
