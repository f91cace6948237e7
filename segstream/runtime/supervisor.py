"""Runs a set of child processes (and services such as the embedded broker) as one unit:
Ctrl-C or SIGTERM stops them all, together; one that fails is restarted, for as long as it
takes: one part that keeps failing never takes the others down.

Children run in their own sessions (a terminal's Ctrl-C reaches only the supervisor, which
then stops them all at once) and get SIGTERM from the kernel if the supervisor itself dies.
A stop returns once every process of each child's session has exited, the JVMs a child
started included. A failure is restarted after a backoff that doubles with each failure in a
row up to a cap; a process that has run healthy for a while starts over with a clean record.
What each process is doing (running, or waiting to restart after how many failures) is
written to a status file that the monitor shows.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from segstream.errors import SegstreamError
from segstream.runtime.processes import die_with_parent, terminate, terminate_group

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Child:
    name: str
    argv: Sequence[str]
    # A child that may finish on its own (e.g. a producer with --max-events).
    may_exit: bool = False


@dataclass(frozen=True)
class Service:
    """Something the supervisor watches but does not own as a child (the embedded broker,
    detached so that it may outlive the supervisor): `start` brings it up (raising a
    `SegstreamError` when it cannot), `running` tells whether it is up."""

    name: str
    start: Callable[[], object]
    running: Callable[[], bool]


@dataclass(frozen=True)
class Restarts:
    """When a failed process is started again: after `first_backoff_s`, doubled with each
    failure in a row up to `max_backoff_s`. `healthy_s` of running clears the failures."""

    first_backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    healthy_s: float = 60.0

    def backoff_s(self, failures: int) -> float:
        return min(self.max_backoff_s, self.first_backoff_s * 2.0 ** (failures - 1))


class _Watch:
    """One supervised process: its failures in a row and when it started or may restart."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.failures = 0
        self.started_at = 0.0
        self.restart_at: float | None = None
        self.last_failure = ""

    def status(self) -> dict[str, object]:
        restarting = self.restart_at is not None
        return {
            "state": "restarting" if restarting else "running",
            "failures_in_a_row": self.failures,
            "last_failure": self.last_failure or None,
            "restart_in_s": round(max(0.0, self.restart_at - time.monotonic()), 1)
            if self.restart_at is not None
            else None,
        }


class Supervisor:
    def __init__(
        self,
        children: Sequence[Child],
        env: Mapping[str, str],
        log_dir: Path,
        stop_timeout_s: float,
        restarts: Restarts = Restarts(),
        services: Sequence[Service] = (),
        status_file: Path | None = None,
    ) -> None:
        self._children = children
        self._services = services
        self._env = dict(env)
        self._log_dir = log_dir
        self._stop_timeout_s = stop_timeout_s
        self._restarts = restarts
        self._stop = threading.Event()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._status_file = status_file

    def _write_status(self, watches: Mapping[str, _Watch]) -> None:
        if self._status_file is None:
            return
        status = {
            "supervisor_pid": os.getpid(),
            "updated_at": datetime.now(UTC).isoformat(),
            "processes": {name: w.status() for name, w in watches.items()},
        }
        tmp = self._status_file.with_name(f".{self._status_file.name}.tmp")
        tmp.write_text(json.dumps(status))
        tmp.replace(self._status_file)

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

    def _start_service(self, service: Service) -> bool:
        try:
            service.start()
            return True
        except SegstreamError as exc:
            log.error("%s did not start: %s", service.name, exc)
            return False

    def _failed(self, watch: _Watch, what: str, now: float) -> None:
        """Records a failure and when to restart."""
        if watch.failures and now - watch.started_at >= self._restarts.healthy_s:
            watch.failures = 0
        watch.failures += 1
        watch.last_failure = what
        delay = self._restarts.backoff_s(watch.failures)
        watch.restart_at = now + delay
        log.error(
            "%s %s; restarting it in %.0f s (failure %d in a row), see its log",
            watch.name,
            what,
            delay,
            watch.failures,
        )

    def run(self) -> int:
        """Starts every service and child and waits; restarts what fails (every process
        here resumes where it left off) as `Restarts` says. Returns 0 after a requested
        stop, 1 if a service did not come up at the start."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        names = [s.name for s in self._services] + [c.name for c in self._children]
        watches = {name: _Watch(name) for name in names}
        try:
            self._log_dir.mkdir(parents=True, exist_ok=True)
            for service in self._services:
                watches[service.name].started_at = time.monotonic()
                if not self._start_service(service):
                    return 1
            for child in self._children:
                if self._stop.is_set():
                    break
                watches[child.name].started_at = time.monotonic()
                self._start(child)
            self._write_status(watches)
            while not self._stop.wait(0.5):
                self._watch_services(watches)
                self._watch_children(watches)
                self._write_status(watches)
        finally:
            self.stop_all()
            for s, handler in previous.items():
                signal.signal(s, handler)
        return 0

    def _watch_services(self, watches: Mapping[str, _Watch]) -> None:
        for service in self._services:
            watch, now = watches[service.name], time.monotonic()
            if watch.restart_at is None:
                if not service.running():
                    self._failed(watch, "is down", now)
            elif now >= watch.restart_at and not self._stop.is_set():
                watch.restart_at, watch.started_at = None, now
                if not self._start_service(service):
                    self._failed(watch, "did not start", time.monotonic())

    def _watch_children(self, watches: Mapping[str, _Watch]) -> None:
        for child in self._children:
            watch, now = watches[child.name], time.monotonic()
            if watch.restart_at is None:
                code = self._procs[child.name].poll()
                if code is None or (code == 0 and child.may_exit):
                    continue
                self._failed(watch, f"exited with code {code}", now)
            elif now >= watch.restart_at and not self._stop.is_set():
                watch.restart_at, watch.started_at = None, now
                self._start(child)

    def stop_all(self) -> None:
        """SIGTERM to every running child at once, then each waited for (SIGKILL after the
        stop timeout), so the slowest child, not their sum, bounds the stop. Returns once
        every process of each child's session is gone: a child's JVM outlives the child by
        a few seconds while it shuts down."""
        started = [
            (child, proc) for child in self._children if (proc := self._procs.get(child.name))
        ]
        running = [(child, proc) for child, proc in started if proc.poll() is None]
        with ThreadPoolExecutor(max_workers=max(1, len(started))) as pool:
            stops = [
                (child, proc, pool.submit(terminate, proc.pid, self._stop_timeout_s))
                for child, proc in running
            ]
            for child, proc, stopped in stops:
                clean = stopped.result()
                proc.wait()
                log.info("%s stopped%s", child.name, "" if clean else " (killed after timeout)")
            # Every child leads a session of its own, so its pid names its process group.
            groups = [
                (child, pool.submit(terminate_group, proc.pid, self._stop_timeout_s))
                for child, proc in started
            ]
            for child, left in groups:
                if left.result():
                    log.warning("%s: processes it started were killed after timeout", child.name)
