from __future__ import annotations

import itertools
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

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


def test_a_failing_child_is_restarted_with_a_capped_backoff_and_never_stops_the_others(
    tmp_path: Path,
) -> None:
    flaky = Child("flaky", [sys.executable, "-c", FAILING])
    steady = Child("steady", [sys.executable, "-c", "import time; time.sleep(600)"])
    restarts = Restarts(first_backoff_s=0.4, max_backoff_s=1.0, healthy_s=60)
    status = tmp_path / "status.json"
    supervisor = Supervisor(
        [flaky, steady], {}, tmp_path, stop_timeout_s=10, restarts=restarts, status_file=status
    )

    seen: list[dict[str, Any]] = []

    def look() -> None:
        seen.append(json.loads(status.read_text()))

    threading.Timer(5.0, look).start()
    timer = sigterm_after(6.0)
    try:
        assert supervisor.run() == 0
    finally:
        timer.cancel()
    times = starts(tmp_path / "flaky.log")
    assert len(times) >= 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # 0.4 s, 0.8 s, then capped at 1.0 s (plus the child's own start each time).
    for gap, backoff in zip(gaps, (0.4, 0.8, 1.0, 1.0), strict=False):
        assert gap >= backoff, gaps
    # Never longer than the cap (plus a start and a poll of the supervisor's loop).
    assert all(gap < 3.0 for gap in gaps), gaps
    processes = seen[0]["processes"]
    assert processes["steady"]["state"] == "running"
    assert processes["flaky"]["failures_in_a_row"] >= 3
    assert processes["flaky"]["last_failure"] == "exited with code 3"
    leftovers = [
        p
        for p in psutil.process_iter(["cmdline"])
        if "time.sleep(600)" in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []


# A child that starts a process of its own which, like a JVM, takes a while to exit after
# SIGTERM, and exits at once itself.
_SLOW_GRANDCHILD = (
    "import signal, time; signal.signal(signal.SIGTERM, lambda *a: (time.sleep(2), exit(0))); "
    "time.sleep(600)"
)
_PARENT = (
    "import subprocess, sys, time; "
    f"p = subprocess.Popen([sys.executable, '-c', {_SLOW_GRANDCHILD!r}]); "
    "print(p.pid, flush=True); time.sleep(600)"
)


def test_a_stop_returns_only_when_the_processes_a_child_started_have_exited(
    tmp_path: Path,
) -> None:
    parent = Child("parent", [sys.executable, "-c", _PARENT])
    supervisor = Supervisor([parent], {}, tmp_path, stop_timeout_s=10)
    timer = sigterm_after(2.0)
    try:
        assert supervisor.run() == 0
    finally:
        timer.cancel()
    grandchild = int((tmp_path / "parent.log").read_text().split()[0])
    assert not psutil.pid_exists(grandchild) or (
        psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
    )


def test_a_child_that_ran_healthy_starts_over_with_a_clean_record(tmp_path: Path) -> None:
    # Fails after 0.6 s each time: past `healthy_s`, so never two failures in a row.
    slow_fail = "import time; print(time.time(), flush=True); time.sleep(0.6); raise SystemExit(3)"
    child = Child("blip", [sys.executable, "-c", slow_fail])
    restarts = Restarts(first_backoff_s=0.1, healthy_s=0.5)
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
    restarts = Restarts(first_backoff_s=0.1, healthy_s=60)
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
