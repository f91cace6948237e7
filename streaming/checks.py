"""The `transactions` query's micro-batch: every deduplicated message checked once and
published to `transactions-checked`, where the customer state and the lake read it.

A valid event dated too far after the newest event time seen so far is quarantined
(`beyond_as_of`). That bound and the as-of the batch measures are its plan, recorded before
it publishes: a replay after a crash reads them back and publishes the same records.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pyspark.sql import DataFrame

from segstream.config import Settings
from streaming import transforms
from streaming.batch_plans import BatchPlan, BatchPlans
from streaming.metrics import BatchStats, BatchSummary, MetricsRecorder

Publisher = Callable[[DataFrame], None]
"""Publishes records (`key`, `value`) to `transactions-checked`."""


class CheckMicroBatch:
    """The foreachBatch callable of the `transactions` query."""

    def __init__(
        self,
        settings: Settings,
        plans: BatchPlans,
        publish: Publisher,
        recorder: MetricsRecorder,
    ) -> None:
        self._lead = timedelta(days=settings.as_of_max_ahead_days)
        self._plans = plans
        self._publish = publish
        self._recorder = recorder
        # Recency is measured against the newest event time seen, never the wall clock, so
        # replays and accelerated simulations score as real time would.
        latest = plans.latest()
        self._as_of = None if latest is None else latest.as_of

    def _plan(self, batch_id: int, rows: DataFrame) -> tuple[BatchPlan, DataFrame, BatchSummary]:
        """The batch's plan (the recorded one of a replayed batch, else recorded now), its
        rows with those too far ahead of the as-of quarantined, and their summary."""
        recorded = self._plans.get(batch_id)
        prior = self._as_of if recorded is None else recorded.prior_as_of
        batch = transforms.beyond_as_of(rows, None if prior is None else prior + self._lead)
        summary = BatchSummary.of(batch)
        plan = recorded
        if plan is None:
            as_of = prior
            newest = summary.newest_event
            if newest is not None and (as_of is None or newest > as_of):
                as_of = newest
            plan = self._plans.record(batch_id, BatchPlan(prior, as_of))
        if plan.as_of is not None and (self._as_of is None or plan.as_of > self._as_of):
            self._as_of = plan.as_of
        return plan, batch, summary

    def __call__(self, rows: DataFrame, batch_id: int) -> None:
        started_at, started = datetime.now(UTC), time.monotonic()
        rows.persist()
        try:
            plan, batch, summary = self._plan(batch_id, rows)
            if summary.rows:
                self._publish(transforms.checked_records(batch, batch_id, plan.as_of))
            p50, p95, worst = summary.latency(datetime.now(UTC))
            self._recorder.record(
                BatchStats(
                    batch_id=batch_id,
                    started_at=started_at,
                    processed_rows=summary.rows,
                    valid_rows=summary.valid,
                    customers_touched=0,
                    customers_rescored=0,
                    segment_changes=0,
                    model_version=None,
                    batch_duration_s=time.monotonic() - started,
                    latency_p50_s=p50,
                    latency_p95_s=p95,
                    latency_max_s=worst,
                )
            )
        finally:
            rows.unpersist()
