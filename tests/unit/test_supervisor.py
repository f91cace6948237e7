from __future__ import annotations

import itertools
import os
import signal
import sys
import threading
from pathlib import Path

import psutil
import pytest

from segstream.errors import SegstreamError
from segstream.runtime.supervisor import Child, Restarts, Service, Supervisor

pytestmark = pytest.mark.unit

# Prints the wall time of each start, then fails.
FAILING = "import time; print(time.time(), flush=True); raise SystemExit(3)"


def starts(log: Path) -> list[float]:
    return [float(line) for line in log.read_text().split()]


def sigterm_after(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    return timer


def test_a_failing_child_is_restarted_with_growing_backoff_then_everything_stops(
    tmp_path: Path,
) -> None:
    flaky = Child("flaky", [sys.executable, "-c", FAILING])
    steady = Child("steady", [sys.executable, "-c", "import time; time.sleep(600)"])
    restarts = Restarts(max_failures=3, first_backoff_s=0.4, max_backoff_s=1.0, healthy_s=60)
    supervisor = Supervisor([flaky, steady], {}, tmp_path, stop_timeout_s=10, restarts=restarts)

    assert supervisor.run() == 1
    times = starts(tmp_path / "flaky.log")
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # 0.4 s, 0.8 s, then capped at 1.0 s (plus the child's own start each time).
    for gap, backoff in zip(gaps, (0.4, 0.8, 1.0), strict=True):
        assert gap >= backoff, gaps
    leftovers = [
        p
        for p in psutil.process_iter(["cmdline"])
        if "time.sleep(600)" in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []


def test_a_child_that_ran_healthy_starts_over_with_a_clean_record(tmp_path: Path) -> None:
    # Fails after 0.6 s each time: past `healthy_s`, so never two failures in a row.
    slow_fail = "import time; print(time.time(), flush=True); time.sleep(0.6); raise SystemExit(3)"
    child = Child("blip", [sys.executable, "-c", slow_fail])
    restarts = Restarts(max_failures=1, first_backoff_s=0.1, healthy_s=0.5)
    supervisor = Supervisor([child], {}, tmp_path, stop_timeout_s=10, restarts=restarts)

    timer = sigterm_after(6.0)
    try:
        assert supervisor.run() == 0
    finally:
        timer.cancel()
    assert len(starts(tmp_path / "blip.log")) >= 4


def test_a_service_that_goes_down_is_started_again(tmp_path: Path) -> None:
    up = threading.Event()
    started: list[int] = []

    def start() -> None:
        started.append(1)
        if len(started) == 2:
            raise SegstreamError("port taken")
        up.set()

    service = Service("broker", start, up.is_set)
    steady = Child("steady", [sys.executable, "-c", "import time; time.sleep(600)"])
    restarts = Restarts(max_failures=3, first_backoff_s=0.1, healthy_s=60)
    supervisor = Supervisor(
        [steady], {}, tmp_path, stop_timeout_s=10, restarts=restarts, services=[service]
    )
    # Down after 1 s: the first restart fails, the second brings it back.
    threading.Timer(1.0, up.clear).start()
    timer = sigterm_after(4.0)
    try:
        assert supervisor.run() == 0
    finally:
        timer.cancel()
    assert len(started) == 3 and up.is_set()
