"""`kafka stop` stops this home's broker only: a pid file naming another process (a reused
pid, another home's broker) leaves that process alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from segstream.runtime.kafka_broker import MAIN_CLASS, BrokerPaths
from tests.conftest import make_settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("properties", ["/elsewhere/kafka/server.properties", None])
def test_kafka_stop_leaves_a_foreign_process_alone(tmp_path: Path, properties: str | None) -> None:
    settings = make_settings(tmp_path)
    paths = BrokerPaths(settings)
    # Another home's broker, or any process whose command line merely mentions the class.
    args = [MAIN_CLASS, properties] if properties else [f"x{MAIN_CLASS}"]
    foreign = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", *args])
    try:
        paths.root.mkdir(parents=True)
        paths.pid.write_text(f"{foreign.pid}\n")
        stop = subprocess.run(
            [sys.executable, "-m", "cli.main", "kafka", "stop"],
            env=settings.to_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert stop.returncode == 0, stop.stderr
        assert stop.stdout.strip() == "kafka was not running"
        assert foreign.poll() is None
        assert psutil.Process(foreign.pid).status() != psutil.STATUS_ZOMBIE
        assert not paths.pid.exists()
    finally:
        foreign.kill()
        foreign.wait()
