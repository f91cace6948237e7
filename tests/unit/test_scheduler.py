"""The scheduler's timing with a fake clock and recording jobs: bootstrap, intervals,
retries, restart from its state file, and stopping after the current job."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from batch.scheduler import Hooks, Intervals, Scheduler, StateFile

pytestmark = pytest.mark.unit

INTERVALS = Intervals(
    retrain_s=100, rescore_s=30, snapshot_s=20, retry_s=5, min_customers=10, compact_s=200
)


class World:
    def __init__(self) -> None:
        self.now = 1000.0
        self.customers = 0
        self.model = False
        self.calls: list[str] = []
        self.fail: set[str] = set()
        self.on_retrain: list[threading.Event] = []

    def clock(self) -> float:
        return self.now

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name in self.fail:
            raise RuntimeError(f"{name} broke")

    def retrain(self) -> None:
        self._call("retrain")
        self.model = True
        for stop in self.on_retrain:
            stop.set()

    def hooks(self) -> Hooks:
        return Hooks(
            customers=lambda: self.customers,
            has_model=lambda: self.model,
            retrain=self.retrain,
            rescore=lambda: self._call("rescore"),
            snapshot=lambda: self._call("snapshot"),
            compact=lambda: self._call("compact"),
        )


def scheduler(world: World, state: Path, stop: threading.Event | None = None) -> Scheduler:
    return Scheduler(world.hooks(), INTERVALS, StateFile(state), clock=world.clock, stop=stop)


def test_bootstrap_waits_for_customers_then_trains(tmp_path: Path) -> None:
    world = World()
    s = scheduler(world, tmp_path / "state.json")
    world.customers = 9
    assert s.run_pending() == ["compact"] and world.calls == ["compact"]
    world.customers = 10
    assert s.run_pending() == ["retrain", "snapshot"]
    assert world.calls == ["compact", "retrain", "snapshot"]


def test_compaction_runs_on_its_interval_before_any_model_and_is_retried(tmp_path: Path) -> None:
    world = World()
    s = scheduler(world, tmp_path / "state.json")
    world.fail = {"compact"}
    assert s.run_pending() == ["compact"]
    world.now += 4
    assert s.run_pending() == []
    world.now += 1  # the retry interval
    world.fail = set()
    assert s.run_pending() == ["compact"]
    world.now += 199
    assert s.run_pending() == []
    world.now += 1
    assert s.run_pending() == ["compact"]
    assert world.calls == ["compact"] * 3


def test_each_job_runs_on_its_own_interval(tmp_path: Path) -> None:
    world = World()
    world.model = True
    s = scheduler(world, tmp_path / "state.json")
    s.run_pending()
    world.calls.clear()
    world.now += 20  # snapshot due (20), rescore not yet (30), retrain not yet (100)
    assert s.run_pending() == ["snapshot"]
    world.now += 10  # t+30: rescore due, snapshot not (last at t+20)
    assert s.run_pending() == ["rescore"]
    world.now += 70  # t+100: everything due; the retrain's rescore counts for this interval
    assert s.run_pending() == ["retrain", "snapshot"]
    assert world.calls == ["snapshot", "rescore", "retrain", "snapshot"]


def test_a_failed_job_is_retried_after_the_retry_interval(tmp_path: Path) -> None:
    world = World()
    world.model = True
    s = scheduler(world, tmp_path / "state.json")
    world.fail = {"snapshot"}
    s.run_pending()
    world.calls.clear()
    world.now += 5
    assert s.run_pending() == ["snapshot"]
    world.fail = set()
    world.now += 5
    assert s.run_pending() == ["snapshot"]
    world.now += 5
    assert s.run_pending() == []


def test_a_restarted_scheduler_does_not_redo_work_that_is_not_due(tmp_path: Path) -> None:
    world = World()
    world.model = True
    scheduler(world, tmp_path / "state.json").run_pending()
    world.calls.clear()
    world.now += 25
    restarted = scheduler(world, tmp_path / "state.json")
    assert restarted.run_pending() == ["snapshot"]
    assert restarted.seconds_to_next() == pytest.approx(5.0)  # rescore at +30


def test_stop_finishes_the_current_job_and_exits(tmp_path: Path) -> None:
    world = World()
    world.customers = 50
    stop = threading.Event()
    world.on_retrain.append(stop)  # the signal arrives while the retrain runs
    s = scheduler(world, tmp_path / "state.json", stop=stop)
    s.run_forever()
    assert world.calls == ["compact", "retrain"]
    assert StateFile(tmp_path / "state.json").jobs["retrain"]["ok"] is True
