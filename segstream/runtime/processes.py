"""Pid files and the stopping of detached processes."""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil

_PR_SET_PDEATHSIG = 1


def read_pid(pid_file: Path, markers: Sequence[str]) -> int | None:
    """The pid in `pid_file` if that process is alive and its command line has every one of
    `markers` (among its arguments).

    A stale file (dead process, or a pid reused by something else) is removed.
    """
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        proc = psutil.Process(pid)
        args = proc.cmdline()
        alive = proc.status() != psutil.STATUS_ZOMBIE and all(m in args for m in markers)
    except psutil.Error:
        alive = False
    if not alive:
        pid_file.unlink(missing_ok=True)
        return None
    return pid


def terminate(pid: int, timeout_s: float) -> bool:
    """SIGTERM, wait up to `timeout_s`, then SIGKILL. Returns True if it stopped on SIGTERM."""
    try:
        proc = psutil.Process(pid)
        proc.terminate()
        proc.wait(timeout_s)
        return True
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
            proc.wait(10)
        return False


def _group_members(pgid: int) -> list[psutil.Process]:
    """The live processes of group `pgid` (a zombie has exited: nothing is left to stop)."""
    members = []
    for proc in psutil.process_iter(["status"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) == pgid:
                members.append(proc)
    return members


def terminate_group(pgid: int, timeout_s: float) -> bool:
    """Waits up to `timeout_s` for every process of group `pgid` to exit after SIGTERM (one
    that outlasts it gets SIGKILL). Returns True if any had to be killed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while (members := _group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for proc in members:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    return bool(members)


def die_with_parent() -> None:
    """For `preexec_fn`: the child gets SIGTERM when its parent dies, even by SIGKILL."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


# Below Linux's ephemeral range (32768-60999): a port handed out here is never also the
# local end of some outgoing connection between being chosen and being bound.
_FREE_PORTS = (20_000, 32_767)


def free_port(host: str) -> int:
    """A port on `host` that nothing is bound to right now."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(*_FREE_PORTS)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise OSError(f"no free port on {host} in {_FREE_PORTS[0]}-{_FREE_PORTS[1]}")


def wait_for(predicate: Callable[[], object], timeout_s: float, interval_s: float = 0.25) -> bool:
    """Polls `predicate` until it returns truthy or the time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return bool(predicate())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
