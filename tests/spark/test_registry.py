"""The models registry under concurrency: a reader never sees zero, two or a mixed promoted
model while promotions happen; rollback promotes the previously promoted version."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime

import pytest

from batch import model_report
from segstream.model import registry
from segstream.model.record import SegmentModel
from tests.conftest import make_settings

pytestmark = pytest.mark.spark

AS_OF = datetime(2025, 1, 1, tzinfo=UTC)


def candidate(tag: float) -> SegmentModel:
    """A model whose every number carries `tag`, so a mixed record would show."""
    return SegmentModel(
        version=0,
        trained_at=AS_OF,
        as_of=AS_OF,
        rows=100,
        features=("recency_days", "frequency", "monetary"),
        transforms=("log1p", "log1p", "log1p"),
        mean=(tag, tag, tag),
        std=(1.0, 1.0, 1.0),
        centroids=((tag, tag, tag), (-tag, -tag, -tag)),
        segment_ids=(1, 2),
        segment_names=("Champions", "Lost"),
        engine="sklearn",
        metrics={"tag": tag},
    )


def test_promotion_is_atomic_for_a_concurrent_reader_and_rollback_goes_back(
    spark, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path)
    stored = [registry.register(spark, settings, candidate(float(t))) for t in (1, 2, 3)]
    assert [m.version for m in stored] == [1, 2, 3]
    registry.promote(spark, settings, 1)

    seen: list[tuple[int, float]] = []
    problems: list[str] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                m = registry.current(spark, settings)
            except registry.RegistryError as exc:  # two promoted rows
                problems.append(str(exc))
                continue
            if m is None:
                problems.append("no promoted model")
                continue
            tag = float(m.version)
            whole = dataclasses.replace(candidate(tag), version=m.version, status="promoted")
            if m != whole:
                problems.append(f"mixed record for v{m.version}")
            seen.append((m.version, tag))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for version in (2, 3, 1, 3):
            registry.promote(spark, settings, version)
    finally:
        done.set()
        thread.join(timeout=120)
    assert problems == []
    assert len(seen) >= 3
    assert {v for v, _ in seen} <= {1, 2, 3}

    # Promoted in order 1, 2, 3, 1, 3: the one before the current (3) is 1.
    assert registry.rollback(spark, settings) == 1
    current = registry.current(spark, settings)
    assert current is not None and current.version == 1
    statuses = {m.version: m.status for m in registry.list_models(spark, settings)}
    assert statuses == {1: "promoted", 2: "retired", 3: "retired"}
    assert "Champions" in model_report.profile(current)
    assert model_report.listing([current]).splitlines()[1].split()[:2] == ["1", "promoted"]


def test_two_retrains_at_once_get_distinct_versions_and_one_promotion(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path)
    registry.ensure(spark, settings)
    got: dict[int, float] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def retrain(tags: tuple[float, ...]) -> None:
        try:
            start.wait()
            for tag in tags:
                stored = registry.register(spark, settings, candidate(tag))
                got[stored.version] = tag
                registry.promote(spark, settings, stored.version)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=retrain, args=(tags,)) for tags in ((10.0,), (20.0,))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    assert sorted(got) == [1, 2]
    models = registry.list_models(spark, settings)
    assert [m.version for m in models] == [1, 2]
    # Each version holds the record registered under it, whole.
    assert {m.version: m.mean[0] for m in models} == got
    assert [m.status for m in models].count("promoted") == 1
    current = registry.current(spark, settings)
    assert current is not None and current.version in got
