"""`segstream demo`: the whole live system on one machine (broker, simulator, stream,
scheduler and monitor), stopped as one by Ctrl-C."""

from __future__ import annotations

import logging
import sys

from segstream.config import Settings
from segstream.runtime import kafka_broker, topics
from segstream.runtime.supervisor import Child, Service, Supervisor
from viz import serve

log = logging.getLogger(__name__)

_STOP_TIMEOUT_S = 60.0


def children(rate: float) -> list[Child]:
    cli = [sys.executable, "-m", "cli.main"]
    # Stopped in this order: the producer first, so the stream sees its last events.
    return [
        Child("simulator", [*cli, "simulate", "--rate", str(rate)]),
        Child("stream", [*cli, "stream"]),
        # Intervals short enough that a demo shows the first model appear, segments fill
        # and the scenario's shift raise a drift alert followed by a retrain, and long
        # enough to leave the stream the CPU: on 2 cores a snapshot every 30 s ran
        # back to back (~60 s each) and tripled the stream's batch time.
        Child(
            "scheduler",
            [
                *cli,
                "scheduler",
                "--retrain-every",
                "600",
                "--rescore-every",
                "120",
                "--snapshot-every",
                "120",
                "--compact-every",
                "300",
                "--retrain-on-drift",
            ],
        ),
        Child("monitor", [*cli, "monitor"]),
    ]


def run(settings: Settings, rate: float, keep_broker: bool) -> int:
    # Before anything starts: a taken monitor port would otherwise only show in its log.
    serve.check_port(settings.monitor_host, settings.monitor_port)
    started_broker = settings.embedded_kafka and not kafka_broker.status(settings).running
    # Detached (it may outlive the demo with --keep-broker), so watched rather than owned.
    broker = Service(
        "broker",
        lambda: kafka_broker.start(settings),
        lambda: kafka_broker.status(settings).running,
    )
    supervisor = Supervisor(
        children(rate),
        settings.to_env(),
        (settings.home / "logs").resolve(),
        _STOP_TIMEOUT_S,
        services=[broker] if settings.embedded_kafka else [],
        status_file=settings.demo_status_path(),
    )
    try:
        if settings.embedded_kafka:
            kafka_broker.start(settings)
        topics.ensure_topics(settings)
        log.info("demo running against %s; Ctrl-C stops everything", settings.bootstrap_servers)
        log.info("monitor at %s", serve.url(settings))
        return supervisor.run()
    finally:
        if started_broker and not keep_broker:
            kafka_broker.stop(settings)
            log.info("broker stopped")
