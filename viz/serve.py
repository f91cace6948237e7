"""Serving the Streamlit monitor (`viz/app.py`) as a child process of `segstream monitor`.

The child gets the settings through the SEGSTREAM_* environment, runs headless without usage
statistics, and dies with its parent. SIGTERM or Ctrl-C stops it and ends with exit code 0.
"""

from __future__ import annotations

import errno
import logging
import socket
import subprocess
import sys
from pathlib import Path

from segstream.config import Settings
from segstream.runtime.errors import RuntimeSetupError
from segstream.runtime.processes import die_with_parent, terminate
from segstream.runtime.signals import stop_on_signals

log = logging.getLogger(__name__)

_STOP_TIMEOUT_S = 10.0
APP = Path(__file__).resolve().parent / "app.py"


def url(settings: Settings) -> str:
    return f"http://{settings.monitor_host}:{settings.monitor_port}"


def check_port(host: str, port: int) -> None:
    """Fails clearly if something listens on host:port (Streamlit would only log it).

    Raises:
        RuntimeSetupError: the address is taken or cannot be bound.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As the server will: a port left in TIME_WAIT by a previous monitor is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise RuntimeSetupError(
                    f"port {port} on {host} is already in use: stop what listens there or "
                    "choose another with --monitor-port / SEGSTREAM_MONITOR_PORT"
                ) from None
            raise RuntimeSetupError(f"cannot serve the monitor on {host}:{port}: {exc}") from None


def command(settings: Settings) -> list[str]:
    """The `streamlit run` command line of the monitor."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless",
        "true",
        "--server.address",
        settings.monitor_host,
        "--server.port",
        str(settings.monitor_port),
        "--browser.gatherUsageStats",
        "false",
        # A viewer's toolbar: no "Deploy" or developer entries on an operations page.
        "--client.toolbarMode",
        "viewer",
        # The app's code does not change under a running monitor; no file watcher needed.
        "--server.fileWatcherType",
        "none",
    ]


def run(settings: Settings) -> int:
    """Serves the monitor until SIGTERM/SIGINT (exit 0) or until Streamlit itself exits."""
    check_port(settings.monitor_host, settings.monitor_port)
    with stop_on_signals("stopping the monitor") as stop:
        proc = subprocess.Popen(
            command(settings),
            env=settings.to_env(),
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            # Its own session: a terminal's Ctrl-C reaches only this process, which then
            # stops Streamlit once, in order.
            start_new_session=True,
        )
        log.info("monitor at %s (lake %s)", url(settings), settings.lake.resolve())
        while proc.poll() is None and not stop.wait(0.2):
            pass
        if stop.is_set():
            terminate(proc.pid, _STOP_TIMEOUT_S)
            proc.wait()
            log.info("monitor stopped")
            return 0
        log.error("the monitor's web server exited with code %d", proc.returncode)
        return proc.returncode or 1
