"""The per-batch plans: recorded whole, read back exactly, the old ones pruned."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from streaming.batch_plans import BatchPlan, BatchPlans

pytestmark = pytest.mark.unit


def test_a_plan_reads_back_as_recorded_and_old_ones_go(tmp_path: Path) -> None:
    plans = BatchPlans(tmp_path / "plans")
    at = datetime(2024, 1, 3, 12, 30, 0, 123456, tzinfo=UTC)
    assert plans.get(7) is None and plans.latest() is None
    first = plans.record(0, BatchPlan(None, None))
    plan = plans.record(7, BatchPlan(None, at))
    assert plans.get(7) == plan and plans.get(0) == first
    assert plans.get(7).as_of.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert plans.latest() == plan
    plans.record(100, BatchPlan(at, at))
    assert plans.get(0) is None  # 100 batches later
    assert sorted(p.name for p in (tmp_path / "plans").iterdir()) == ["100.json", "7.json"]
    assert plans.latest() == BatchPlan(at, at)
