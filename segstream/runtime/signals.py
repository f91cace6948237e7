"""Graceful stop of a long-running process on SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger(__name__)


@contextmanager
def stop_on_signals(then: str) -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM, so the process can finish what it is doing and
    exit (`then` says what it does, for the log); the previous handlers are restored on exit.

    Enter it after the SparkSession exists: creating one installs PySpark's own SIGINT
    handler, which cancels the running jobs instead.
    """
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: %s", signal.Signals(signum).name, then)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
