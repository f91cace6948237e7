"""The demo's processes as the monitor shows them: the supervisor's status file
(`segstream.runtime.supervisor`), read only while that supervisor runs."""

from __future__ import annotations

import json
from pathlib import Path

import psutil


def restarting_processes(status_file: Path, home: Path) -> list[str]:
    """One line for each process that failed and waits to restart; none when no demo runs."""
    try:
        status = json.loads(status_file.read_text())
    except (OSError, ValueError):
        return []
    pid = int(status.get("supervisor_pid") or 0)
    if pid <= 0 or not psutil.pid_exists(pid):
        return []
    lines = []
    for name, p in sorted(status.get("processes", {}).items()):
        if p.get("state") != "restarting":
            continue
        lines.append(
            f"{name} {p.get('last_failure') or 'failed'}: restarting in "
            f"{p.get('restart_in_s') or 0:.0f} s (failure {p.get('failures_in_a_row')} in a "
            f"row, the others go on); its log: {home.resolve() / 'logs' / f'{name}.log'}"
        )
    return lines
