"""`segstream scheduler`: retrain every T, rescore every T2, snapshot + drift every T3, compact
the tables every T4.

Before the first model exists it waits until `customer_rfm` holds `schedule_min_customers`
customers and then trains one (bootstrap). A promoted retrain counts as that interval's
rescore: the stream re-scores everyone after it switches to the new model. Compaction does
not wait for a model.
A failed job is logged and tried again
after `schedule_retry_s`; the scheduler itself goes on.

Restartable: the time each job last ran is kept in `<home>/scheduler/state.json` (written
atomically after each job), so a restarted scheduler does not redo work that is not due.
SIGINT/SIGTERM cancel the Spark jobs of the job that is running (it is recorded as failed and
runs again when due; every job's writes are atomic Delta commits), then exit.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from segstream.config import Settings
from segstream.runtime.signals import stop_on_signals

log = logging.getLogger(__name__)

RETRAIN, RESCORE, SNAPSHOT, COMPACT = "retrain", "rescore", "snapshot", "compact"
JOBS = (RETRAIN, RESCORE, SNAPSHOT, COMPACT)
_MAX_SLEEP_S = 5.0


@dataclass(frozen=True)
class Intervals:
    retrain_s: float
    rescore_s: float
    snapshot_s: float
    retry_s: float
    min_customers: int
    compact_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Intervals:
        return cls(
            settings.schedule_retrain_s,
            settings.schedule_rescore_s,
            settings.schedule_snapshot_s,
            settings.schedule_retry_s,
            settings.schedule_min_customers,
            settings.schedule_compact_s,
        )

    def every(self, job: str) -> float:
        return {
            RETRAIN: self.retrain_s,
            RESCORE: self.rescore_s,
            SNAPSHOT: self.snapshot_s,
            COMPACT: self.compact_s,
        }[job]


@dataclass(frozen=True)
class Hooks:
    """What the scheduler runs; Spark-backed in `run`, plain functions in tests."""

    customers: Callable[[], int]
    has_model: Callable[[], bool]
    retrain: Callable[[], None]
    rescore: Callable[[], None]
    snapshot: Callable[[], None]  # snapshot + drift
    compact: Callable[[], None]


class StateFile:
    """When each job last ran and whether it succeeded, kept across restarts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.jobs: dict[str, dict[str, float | bool]] = {}
        if path.is_file():
            try:
                self.jobs = json.loads(path.read_text())
            except (OSError, ValueError):
                log.warning("unreadable scheduler state %s; starting fresh", path)

    def record(self, job: str, at: float, ok: bool) -> None:
        self.jobs[job] = {"at": at, "ok": ok}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.jobs, indent=2))
        os.replace(tmp, self.path)  # atomic: a crash leaves the old or the new state

    def next_due(self, job: str, every: float, retry: float) -> float:
        last = self.jobs.get(job)
        if last is None:
            return 0.0
        return float(last["at"]) + (every if last["ok"] else retry)


class Scheduler:
    def __init__(
        self,
        hooks: Hooks,
        intervals: Intervals,
        state: StateFile,
        clock: Callable[[], float] = time.time,
        stop: threading.Event | None = None,
    ) -> None:
        self.hooks = hooks
        self.intervals = intervals
        self.state = state
        self.clock = clock
        self.stop = stop or threading.Event()
        self._has_model = False

    def _run(self, job: str, func: Callable[[], None]) -> bool:
        started = self.clock()
        log.info("%s: starting", job)
        t0 = time.monotonic()
        try:
            func()
            ok = True
            log.info("%s: done in %.1f s", job, time.monotonic() - t0)
        except Exception:
            ok = False
            log.exception("%s: failed; retrying in %.0f s", job, self.intervals.retry_s)
        self.state.record(job, started, ok)
        return ok

    def run_pending(self) -> list[str]:
        """Runs every job that is due now: compaction, then retrain, rescore, snapshot."""
        ran: list[str] = []
        if self._due(COMPACT) and not self.stop.is_set():
            self._run(COMPACT, self.hooks.compact)
            ran.append(COMPACT)
        if not self._has_model:
            self._has_model = self.hooks.has_model()
        if not self._has_model:
            n = self.hooks.customers()
            if n < self.intervals.min_customers:
                log.info(
                    "waiting for %d customers to train the first model (%d so far)",
                    self.intervals.min_customers,
                    n,
                )
                return ran
            log.info("bootstrap: %d customers, training the first model", n)
        due = {job: self._due(job) for job in (RETRAIN, RESCORE, SNAPSHOT)}
        if due[RETRAIN] or not self._has_model:
            ok = self._run(RETRAIN, self.hooks.retrain)
            ran.append(RETRAIN)
            self._has_model = self._has_model or ok
            if ok:
                self.state.record(RESCORE, self.clock(), True)
                due[RESCORE] = False
        jobs: tuple[tuple[str, Callable[[], None]], ...] = (
            (RESCORE, self.hooks.rescore),
            (SNAPSHOT, self.hooks.snapshot),
        )
        for job, func in jobs:
            if due[job] and self._has_model and not self.stop.is_set():
                self._run(job, func)
                ran.append(job)
        return ran

    def _next_due(self, job: str) -> float:
        return self.state.next_due(job, self.intervals.every(job), self.intervals.retry_s)

    def _due(self, job: str) -> bool:
        return self._next_due(job) <= self.clock()

    def seconds_to_next(self) -> float:
        return max(0.0, min(self._next_due(job) for job in JOBS) - self.clock())

    def run_forever(self) -> None:
        """Runs due jobs until `stop` is set; checks at least every few seconds."""
        log.info(
            "scheduler: retrain every %.0f s, rescore every %.0f s, snapshot + drift every "
            "%.0f s, compact every %.0f s",
            self.intervals.retrain_s,
            self.intervals.rescore_s,
            self.intervals.snapshot_s,
            self.intervals.compact_s,
        )
        while not self.stop.is_set():
            self.run_pending()
            if self.stop.is_set():
                break
            self.stop.wait(
                min(_MAX_SLEEP_S, self.seconds_to_next()) if self._has_model else _MAX_SLEEP_S
            )
        log.info("scheduler stopped")


def state_path(settings: Settings) -> Path:
    return (settings.home / "scheduler" / "state.json").resolve()


def spark_hooks(
    settings: Settings, retrain_on_drift: bool = False
) -> tuple[Hooks, Callable[[], None], Callable[[], None]]:
    """Hooks that run the real jobs on one SparkSession, a function that cancels the running
    Spark jobs, and one that stops the session."""
    from batch import compact, drift_job, rescore, retrain
    from segstream.contracts import tables
    from segstream.lake import reads
    from segstream.model import registry
    from segstream.spark_session import get_spark

    spark = get_spark(settings, "segstream-scheduler")

    def customers() -> int:
        if not reads.exists(settings, tables.CUSTOMER_RFM):
            return 0
        return reads.customer_rfm(spark, settings).count()

    def do_retrain() -> None:
        retrain.run(spark, settings, retrain.RetrainOptions())

    def do_rescore() -> None:
        rescore.run(spark, settings)

    def do_snapshot() -> None:
        drift_job.run(spark, settings, retrain_on_drift=retrain_on_drift)

    def do_compact() -> None:
        compact.check(compact.run(spark, settings))

    hooks = Hooks(
        customers=customers,
        has_model=lambda: registry.current(spark, settings) is not None,
        retrain=do_retrain,
        rescore=do_rescore,
        snapshot=do_snapshot,
        compact=do_compact,
    )
    return hooks, spark.sparkContext.cancelAllJobs, spark.stop


def run(settings: Settings, once: bool = False, retrain_on_drift: bool = False) -> None:
    """Runs the scheduler until SIGINT/SIGTERM (or, with `once`, runs what is due and exits)."""
    hooks, cancel, close = spark_hooks(settings, retrain_on_drift)
    try:
        # Entered after the SparkSession exists: PySpark installs its own SIGINT handler then.
        with stop_on_signals("cancelling the current job, then exiting") as stop:
            finished = threading.Event()

            def cancel_on_stop() -> None:
                while not (stop.wait(0.5) or finished.is_set()):
                    pass
                # Again and again: a job's next step (after a retrain's training in Python,
                # its registration) starts new Spark jobs, which must not run either.
                while not finished.is_set():
                    cancel()
                    finished.wait(0.2)

            # A retrain takes minutes on 2 cores: waiting for it would hold a stop as long.
            canceller = threading.Thread(target=cancel_on_stop, name="cancel-on-stop")
            canceller.start()
            try:
                scheduler = Scheduler(
                    hooks,
                    Intervals.from_settings(settings),
                    StateFile(state_path(settings)),
                    stop=stop,
                )
                if once:
                    scheduler.run_pending()
                else:
                    scheduler.run_forever()
            finally:
                finished.set()
                canceller.join()
    finally:
        close()
