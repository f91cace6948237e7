"""Runs a set of child processes (and services such as the embedded broker) as one unit:
Ctrl-C or SIGTERM stops them all, together; one that fails is restarted.

Children run in their own sessions (a terminal's Ctrl-C reaches only the supervisor, which
then stops them all at once) and get SIGTERM from the kernel if the supervisor itself dies.
A failure is restarted after a backoff that doubles with each failure in a row; a process
that has run healthy for a while starts over with a clean record, so a blip a day does not
add up to a give-up.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from segstream.errors import SegstreamError
from segstream.runtime.processes import die_with_parent, terminate

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
    failure in a row up to `max_backoff_s`; after `max_failures` failures in a row it stays
    down and everything stops. `healthy_s` of running clears the failures."""

    max_failures: int = 5
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


class Supervisor:
    def __init__(
        self,
        children: Sequence[Child],
        env: Mapping[str, str],
        log_dir: Path,
        stop_timeout_s: float,
        restarts: Restarts = Restarts(),
        services: Sequence[Service] = (),
    ) -> None:
        self._children = children
        self._services = services
        self._env = dict(env)
        self._log_dir = log_dir
        self._stop_timeout_s = stop_timeout_s
        self._restarts = restarts
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

    def _start_service(self, service: Service) -> bool:
        try:
            service.start()
            return True
        except SegstreamError as exc:
            log.error("%s did not start: %s", service.name, exc)
            return False

    def _failed(self, watch: _Watch, what: str, now: float) -> bool:
        """Records a failure; False when it was one too many."""
        if watch.failures and now - watch.started_at >= self._restarts.healthy_s:
            watch.failures = 0
        watch.failures += 1
        if watch.failures > self._restarts.max_failures:
            log.error("%s %s again; stopping the others", watch.name, what)
            return False
        delay = self._restarts.backoff_s(watch.failures)
        watch.restart_at = now + delay
        log.error(
            "%s %s; restarting it in %.0f s (failure %d in a row of at most %d), see its log",
            watch.name,
            what,
            delay,
            watch.failures,
            self._restarts.max_failures,
        )
        return True

    def run(self) -> int:
        """Starts every service and child and waits; restarts what fails (every process
        here resumes where it left off) as `Restarts` says, and stops everything when one
        fails too often. Returns 0 after a requested stop, 1 if something failed for good."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        failed = False
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
            while not failed and not self._stop.wait(0.5):
                failed = not self._watch_services(watches) or not self._watch_children(watches)
            if failed:
                self._stop.set()
        finally:
            self.stop_all()
            for s, handler in previous.items():
                signal.signal(s, handler)
        return 1 if failed else 0

    def _watch_services(self, watches: Mapping[str, _Watch]) -> bool:
        for service in self._services:
            watch, now = watches[service.name], time.monotonic()
            if watch.restart_at is None:
                if not service.running() and not self._failed(watch, "is down", now):
                    return False
            elif now >= watch.restart_at and not self._stop.is_set():
                watch.restart_at, watch.started_at = None, now
                if not self._start_service(service) and not self._failed(
                    watch, "did not start", time.monotonic()
                ):
                    return False
        return True

    def _watch_children(self, watches: Mapping[str, _Watch]) -> bool:
        for child in self._children:
            watch, now = watches[child.name], time.monotonic()
            if watch.restart_at is None:
                code = self._procs[child.name].poll()
                if code is None or (code == 0 and child.may_exit):
                    continue
                if not self._failed(watch, f"exited with code {code}", now):
                    return False
            elif now >= watch.restart_at and not self._stop.is_set():
                watch.restart_at, watch.started_at = None, now
                self._start(child)
        return True

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
