from __future__ import annotations

import sys
from pathlib import Path

import psutil
import pytest

from segstream.runtime.supervisor import Child, Supervisor

pytestmark = pytest.mark.unit


def test_a_failing_child_is_restarted_then_everything_stops(tmp_path: Path) -> None:
    flaky = Child(
        "flaky", [sys.executable, "-c", "print('start', flush=True); raise SystemExit(3)"]
    )
    steady = Child("steady", [sys.executable, "-c", "import time; time.sleep(600)"])
    supervisor = Supervisor([flaky, steady], {}, tmp_path, stop_timeout_s=10, max_restarts=2)

    assert supervisor.run() == 1
    assert (tmp_path / "flaky.log").read_text().count("start") == 3
    leftovers = [
        p
        for p in psutil.process_iter(["cmdline"])
        if "time.sleep(600)" in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []
