"""Runs a set of child processes as one unit: Ctrl-C or SIGTERM stops them all, together.

Children run in their own sessions (a terminal's Ctrl-C reaches only the supervisor, which
then stops them all at once) and get SIGTERM from the kernel if the supervisor itself dies.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from segstream.runtime.processes import die_with_parent, terminate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Child:
    name: str
    argv: Sequence[str]
    # A child that may finish on its own (e.g. a producer with --max-events).
    may_exit: bool = False


class Supervisor:
    def __init__(
        self,
        children: Sequence[Child],
        env: Mapping[str, str],
        log_dir: Path,
        stop_timeout_s: float,
        max_restarts: int = 3,
    ) -> None:
        self._children = children
        self._env = dict(env)
        self._log_dir = log_dir
        self._stop_timeout_s = stop_timeout_s
        self._max_restarts = max_restarts
        self._stop = threading.Event()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        self._stop.set()

    def _start(self, child: Child) -> None:
        with (self._log_dir / f"{child.name}.log").open("ab") as out:
            self._procs[child.name] = subprocess.Popen(
                list(child.argv),
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        log.info(
            "started %s (pid %d), log %s",
            child.name,
            self._procs[child.name].pid,
            self._log_dir / f"{child.name}.log",
        )

    def run(self) -> int:
        """Starts every child and waits. A child that fails is restarted (every process here
        resumes where it left off) up to `max_restarts` times; after that everything stops.
        Returns 0 after a requested stop, 1 if a child failed for good."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        failed = False
        restarts = dict.fromkeys((c.name for c in self._children), 0)
        try:
            self._log_dir.mkdir(parents=True, exist_ok=True)
            for child in self._children:
                if self._stop.is_set():
                    break
                self._start(child)
            while not self._stop.wait(0.5):
                for child in self._children:
                    code = self._procs[child.name].poll()
                    if code is None or (code == 0 and child.may_exit):
                        continue
                    if restarts[child.name] < self._max_restarts:
                        restarts[child.name] += 1
                        log.error(
                            "%s exited with code %s; restarting it (%d of %d), see its log",
                            child.name,
                            code,
                            restarts[child.name],
                            self._max_restarts,
                        )
                        self._start(child)
                        continue
                    log.error("%s exited with code %s again; stopping the others", child.name, code)
                    failed = True
                    self._stop.set()
        finally:
            self.stop_all()
            for s, handler in previous.items():
                signal.signal(s, handler)
        return 1 if failed else 0

    def stop_all(self) -> None:
        """SIGTERM to every running child at once, then each waited for (SIGKILL after the
        stop timeout), so the slowest child, not their sum, bounds the stop."""
        running = [
            (child, proc)
            for child in self._children
            if (proc := self._procs.get(child.name)) is not None and proc.poll() is None
        ]
        with ThreadPoolExecutor(max_workers=max(1, len(running))) as pool:
            stops = [
                (child, proc, pool.submit(terminate, proc.pid, self._stop_timeout_s))
                for child, proc in running
            ]
            for child, proc, stopped in stops:
                clean = stopped.result()
                proc.wait()
                log.info("%s stopped%s", child.name, "" if clean else " (killed after timeout)")
