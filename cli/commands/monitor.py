"""`segstream monitor`: the Streamlit monitor over the lake's tables."""

from __future__ import annotations

import argparse

from cli.commands import Add
from segstream.config import Settings, load_settings

_EPILOG = """\
The monitor reads the Delta tables under the lake (no JVM) and shows segment sizes and R/F/M
profiles, drift and its alerts, segment migrations, stream rates and latency, quarantine and
the model versions; pages refresh every SEGSTREAM_MONITOR_REFRESH_S seconds. It serves on
SEGSTREAM_MONITOR_HOST:SEGSTREAM_MONITOR_PORT (default 127.0.0.1:8501); Ctrl-C stops it.

example:
  segstream monitor --monitor-port 8601 --lake ./lake"""


def register(add: Add) -> None:
    p = add(
        "monitor",
        cmd_monitor,
        "serve the Streamlit monitor: segments, drift, stream health, models",
        "",
        epilog=_EPILOG,
    )
    p.add_argument("--monitor-host", help="address to serve on (default 127.0.0.1)")
    p.add_argument("--monitor-port", type=int, help="port to serve on (default 8501)")


def cmd_monitor(settings: Settings, args: argparse.Namespace) -> int:
    from viz import serve

    overrides = {"monitor_host": args.monitor_host, "monitor_port": args.monitor_port}
    given = {k: v for k, v in overrides.items() if v is not None}
    if given:
        settings = load_settings(**{**settings.model_dump(), **given})
    return serve.run(settings)
