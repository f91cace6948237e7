"""`segstream demo` brings up broker, simulator, stream, scheduler and monitor, and brings the
broker back when it dies; Ctrl-C stops every process cleanly (none killed after its grace)
within the 20 s a user waits, and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from kafka.errors import KafkaError

from segstream.runtime import kafka_broker, topics
from segstream.runtime.processes import wait_for
from tests.conftest import make_settings

pytestmark = pytest.mark.integration


def our_processes(home: Path) -> list[psutil.Process]:
    """Every process started with this demo's SEGSTREAM_HOME in its environment."""
    marker = str(home.resolve())
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("SEGSTREAM_HOME") == marker:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def test_the_demo_survives_a_broker_crash_and_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    env = settings.to_env()
    log = (tmp_path / "demo.log").open("wb")
    demo = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "demo", "--rate", "100"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    scores = [(settings.topic_customer_scores, p) for p in range(settings.topic_partitions)]

    def published() -> int:
        try:
            return sum(topics.end_offsets(settings, scores).values())
        except KafkaError:  # the broker is still starting, or back from a crash
            return 0

    try:
        # The hot part's first scores mean every process is up. The lake part is not waited
        # for: niced behind the hot path on 2 cores, its first MERGE came ~3.5 min after the
        # start, and the stream tests check what it writes.
        assert wait_for(lambda: published() > 0, 300, 1.0), (tmp_path / "demo.log").read_text()
        kinds = {" ".join(p.cmdline()) for p in our_processes(settings.home)}
        assert any("kafka.Kafka" in c for c in kinds), kinds
        assert any("simulate" in c for c in kinds), kinds
        assert any("scheduler" in c for c in kinds), kinds
        assert any("streamlit run" in c for c in kinds), kinds
        assert sum("org.apache.spark.deploy.SparkSubmit" in c for c in kinds) >= 1, kinds

        # A broker that dies is started again, and the stream goes on: the customer state
        # publishes scores of events the simulator sent after the broker came back.
        first = kafka_broker.status(settings).pid
        assert first is not None
        os.kill(first, signal.SIGKILL)

        def back_up() -> bool:
            pid = kafka_broker.status(settings).pid
            return pid not in (None, first) and topics.broker_answers(settings)

        assert wait_for(back_up, 120, 0.5), (tmp_path / "demo.log").read_text()
        # Not `published()`: a failed read must not count as an empty topic here.
        back = sum(topics.end_offsets(settings, scores).values())
        assert wait_for(lambda: published() > back, 300, 2.0), (
            tmp_path / "demo.log"
        ).read_text() + (settings.home / "logs" / "stream.log").read_text()[-5000:]
    finally:
        demo.send_signal(signal.SIGINT)
        asked = time.monotonic()
        code = demo.wait(180)
        stop_s = time.monotonic() - asked
        log.close()
    text = (tmp_path / "demo.log").read_text()
    assert code == 0, text
    assert "killed after timeout" not in text, text
    assert stop_s <= 20, f"the demo took {stop_s:.0f} s to stop:\n{text}"
    leftovers = our_processes(settings.home)
    assert leftovers == [], [" ".join(p.cmdline())[:200] for p in leftovers]
