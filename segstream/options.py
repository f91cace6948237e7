"""Command-line options that set settings, shared by every entry point (the `segstream`
command and the `spark-submit` scripts), so a flag means the same everywhere."""

from __future__ import annotations

import argparse
from pathlib import Path

from segstream.config import Settings, load_settings

EPILOG = """\
Every option can also be set in the environment as SEGSTREAM_<NAME> (e.g. SEGSTREAM_LAKE,
SEGSTREAM_KAFKA_BOOTSTRAP); flags win over the environment. `segstream config` prints the
effective values.
"""
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

_SETTING_FLAGS = (
    "lake",
    "home",
    "jars",
    "kafka_bootstrap",
    "kafka_port",
    "kafka_controller_port",
    "spark_master",
)


def settings_parser() -> argparse.ArgumentParser:
    """A parent parser with the settings options and `--log-level`."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("settings (override SEGSTREAM_* variables)")
    g.add_argument("--lake", type=Path, help="Delta tables and checkpoints (default ./lake)")
    g.add_argument(
        "--home", type=Path, help="runtime state: broker data, logs (default ./.segstream)"
    )
    g.add_argument("--jars", type=Path, help="JVM jar cache (default ~/.cache/segstream/jars)")
    g.add_argument(
        "--kafka-bootstrap", help="use this Kafka cluster instead of the embedded broker"
    )
    g.add_argument("--kafka-port", type=int, help="embedded broker port (default 9092)")
    g.add_argument(
        "--kafka-controller-port", type=int, help="embedded controller port (default 9093)"
    )
    g.add_argument(
        "--spark-master", help="Spark master when not under spark-submit (default local[2])"
    )
    g.add_argument("--log-level", default="INFO", choices=LOG_LEVELS)
    return p


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings: environment plus the flags of `settings_parser` that were given.

    Raises:
        segstream.config.ConfigError: a value is invalid.
    """
    return load_settings(**{name: getattr(args, name, None) for name in _SETTING_FLAGS})
