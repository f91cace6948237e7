"""The embedded single-node KRaft Kafka broker (broker and controller in one JVM).

Its state lives under `<home>/kafka`: `server.properties`, `client-secret` (the password every
listener asks for), `data/` (formatted once, so topics and offsets survive restarts),
`broker.log` and `broker.pid`. The JVM is detached from the starting process, so the broker
outlives a `segstream kafka start`.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import subprocess
import time
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from segstream.config import EMBEDDED_KAFKA_USER, Settings
from segstream.runtime import jars
from segstream.runtime.errors import BrokerError
from segstream.runtime.processes import port_in_use, read_pid, terminate, wait_for
from segstream.runtime.topics import broker_answers

log = logging.getLogger(__name__)

MAIN_CLASS = "kafka.Kafka"
FORMAT_CLASS = "kafka.tools.StorageTool"
_STOP_TIMEOUT_S = 30.0
_PORT_WAIT_S = 15.0


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    log_file: Path


class BrokerPaths:
    def __init__(self, settings: Settings) -> None:
        self.root = (settings.home / "kafka").resolve()
        self.data = self.root / "data"
        self.properties = self.root / "server.properties"
        self.log4j = self.root / "log4j2.properties"
        self.log = self.root / "broker.log"
        self.pid = self.root / "broker.pid"

    def running_pid(self) -> int | None:
        """The pid of this home's broker, if it runs: the pid file's process only when it
        runs the broker class with this home's properties (a reused pid, or another home's
        broker, is left alone)."""
        return read_pid(self.pid, (MAIN_CLASS, str(self.properties)))


def _require_embedded(settings: Settings) -> None:
    if not settings.embedded_kafka:
        raise BrokerError(
            f"SEGSTREAM_KAFKA_BOOTSTRAP is set ({settings.kafka_bootstrap}): "
            "segstream uses that cluster and runs no broker of its own"
        )


def status(settings: Settings) -> BrokerStatus:
    paths = BrokerPaths(settings)
    pid = paths.running_pid()
    return BrokerStatus(pid is not None, pid, settings.bootstrap_servers, paths.log)


def start(settings: Settings) -> BrokerStatus:
    """Starts the broker and returns once it answers metadata requests.

    Raises:
        BrokerError: a port is taken by another program, or the broker does not come up
            within `kafka_start_timeout_s` (the message carries the tail of its log).
    """
    _require_embedded(settings)
    current = status(settings)
    if current.running:
        log.info("broker already running (pid %s) at %s", current.pid, current.bootstrap)
        return current
    for port in (settings.kafka_port, settings.kafka_controller_port):
        # A broker killed a moment ago can hold its sockets while its threads are torn
        # down (the process is already a zombie by then): give it a few seconds.
        if not wait_for(partial(_port_free, settings.kafka_host, port), _PORT_WAIT_S):
            raise BrokerError(
                f"port {settings.kafka_host}:{port} is in use by another program; "
                "choose others with SEGSTREAM_KAFKA_PORT / SEGSTREAM_KAFKA_CONTROLLER_PORT"
            )
    paths = BrokerPaths(settings)
    paths.data.mkdir(parents=True, exist_ok=True)
    # The properties hold the password: readable by this user only, like the secret itself.
    _write_private(paths.properties, _server_properties(settings, paths, _secret(settings)))
    paths.log4j.write_text(_LOG4J2)
    classpath = os.pathsep.join(str(j) for j in jars.resolve(settings, jars.broker_jars(settings)))
    java = jars.java_executable()
    log4j_opt = f"-Dlog4j2.configurationFile={paths.log4j}"
    if not (paths.data / "meta.properties").is_file():
        _format_storage(java, classpath, log4j_opt, paths)

    started = time.monotonic()
    with paths.log.open("ab") as out:
        proc = subprocess.Popen(
            [
                java,
                f"-Xms{settings.kafka_heap_mb}m",
                f"-Xmx{settings.kafka_heap_mb}m",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                log4j_opt,
                "-cp",
                classpath,
                MAIN_CLASS,
                str(paths.properties),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    paths.pid.write_text(f"{proc.pid}\n")
    deadline = started + settings.kafka_start_timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            paths.pid.unlink(missing_ok=True)
            raise BrokerError(
                f"the broker exited with code {proc.returncode} while starting:\n{_tail(paths.log)}"
            )
        if port_in_use(settings.kafka_host, settings.kafka_port) and broker_answers(settings):
            log.info(
                "broker up at %s (pid %d) in %.1f s",
                settings.bootstrap_servers,
                proc.pid,
                time.monotonic() - started,
            )
            return BrokerStatus(True, proc.pid, settings.bootstrap_servers, paths.log)
        time.sleep(0.25)
    terminate(proc.pid, _STOP_TIMEOUT_S)
    paths.pid.unlink(missing_ok=True)
    raise BrokerError(
        f"the broker did not answer at {settings.bootstrap_servers} within "
        f"{settings.kafka_start_timeout_s:.0f} s:\n{_tail(paths.log)}"
    )


def stop(settings: Settings) -> bool:
    """Stops the broker with SIGTERM (SIGKILL after a grace period). False if none ran."""
    _require_embedded(settings)
    paths = BrokerPaths(settings)
    pid = paths.running_pid()
    if pid is None:
        return False
    if not terminate(pid, _STOP_TIMEOUT_S):
        log.warning("broker pid %d ignored SIGTERM for %.0f s; killed", pid, _STOP_TIMEOUT_S)
    paths.pid.unlink(missing_ok=True)
    return True


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _secret(settings: Settings) -> str:
    """The clients' password, made at the first start (every client reads it from there)."""
    path = settings.broker_secret_path()
    if not path.is_file():
        _write_private(path, secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def _port_free(host: str, port: int) -> bool:
    return not port_in_use(host, port)


def _format_storage(java: str, classpath: str, log4j_opt: str, paths: BrokerPaths) -> None:
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    proc = subprocess.run(
        [
            java,
            log4j_opt,
            "-cp",
            classpath,
            FORMAT_CLASS,
            "format",
            # One argument: a generated id may start with "-" and would read as an option.
            f"--cluster-id={cluster_id}",
            f"--config={paths.properties}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BrokerError(f"formatting broker storage failed:\n{proc.stdout}{proc.stderr}")
    log.info("formatted broker storage in %s (cluster id %s)", paths.data, cluster_id)


def _server_properties(settings: Settings, paths: BrokerPaths, secret: str) -> str:
    host = settings.kafka_host
    # Every listener, the controller's too, asks for the password: a loopback address alone
    # would let any user of the machine read and write the topics.
    login = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{EMBEDDED_KAFKA_USER}" password="{secret}" '
        f'user_{EMBEDDED_KAFKA_USER}="{secret}";'
    )
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{settings.kafka_controller_port}",
        "listeners": f"CLIENT://{host}:{settings.kafka_port},"
        f"CONTROLLER://{host}:{settings.kafka_controller_port}",
        "advertised.listeners": f"CLIENT://{host}:{settings.kafka_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "CLIENT",
        "listener.security.protocol.map": "CONTROLLER:SASL_PLAINTEXT,CLIENT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.client.plain.sasl.jaas.config": login,
        "listener.name.controller.plain.sasl.jaas.config": login,
        "log.dirs": str(paths.data),
        "num.partitions": str(settings.topic_partitions),
        # One node: every internal topic must live with a single replica.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # After a kill the restarted broker waits for its old session to expire: keep it short.
        "broker.heartbeat.interval.ms": "500",
        "broker.session.timeout.ms": "3000",
        "auto.create.topics.enable": "false",
        "log.retention.hours": "-1",
        "message.max.bytes": str(4 * 1024 * 1024),
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
"""


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no broker log)"
