"""Two writers creating the same table on a fresh lake (the stream and the scheduler both
need `models` at start): both succeed and the table is created once, also when one of them
finds the other's creation unfinished; a folder that never becomes the catalogue's table is
refused."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pyspark.errors import AnalysisException

from segstream.config import Settings
from segstream.contracts import tables
from segstream.lake import writes
from tests.conftest import make_settings


def _creator(
    spark: Any,
    settings: Settings,
    name: str,
    errors: list[str],
    barrier: threading.Barrier | None = None,
) -> threading.Thread:
    """A thread that creates `name` (after `barrier`, if any) and records its error's text."""

    def create() -> None:
        if barrier is not None:
            barrier.wait()
        try:
            writes.ensure(spark, settings, name)
        except BaseException as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

    return threading.Thread(target=create)


def _create_twice_at_once(spark: Any, settings: Settings, name: str) -> list[str]:
    barrier = threading.Barrier(2)
    errors: list[str] = []
    threads = [_creator(spark, settings, name, errors, barrier) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_creation_of_a_table_succeeds_for_both(spark: Any, tmp_path: Path) -> None:
    names = (tables.MODELS, tables.CUSTOMERS, tables.SEGMENT_HISTORY, tables.STREAM_METRICS)
    for round_ in range(2):
        settings = make_settings(tmp_path / f"round{round_}")
        for name in names:
            assert _create_twice_at_once(spark, settings, name) == [], name
            path = settings.table_path(name)
            history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").collect()
            assert [r["operation"] for r in history] == ["CREATE TABLE"], name
            schema = spark.read.format("delta").load(str(path)).schema
            assert [f.name for f in schema] == [f.name for f in tables.table(name).schema]


def _plant_unfinished_creation(path: Path) -> None:
    # What a winner leaves between making the table's folder and its first commit.
    (path / "_delta_log").mkdir(parents=True)


def _finish_creation(winner: Path, path: Path) -> None:
    for commit in (winner / "_delta_log").glob("*.json"):
        shutil.copy(commit, path / "_delta_log" / commit.name)


def test_a_writer_that_finds_another_ones_creation_unfinished_waits_for_it(
    spark: Any, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "lake")
    winner = writes.ensure(spark, make_settings(tmp_path / "winner"), tables.SEGMENT_HISTORY)
    path = settings.table_path(tables.SEGMENT_HISTORY)
    _plant_unfinished_creation(path)
    errors: list[str] = []
    loser = _creator(spark, settings, tables.SEGMENT_HISTORY, errors)
    loser.start()
    time.sleep(2.0)
    assert loser.is_alive(), "gave up before the winner's commit"
    _finish_creation(winner, path)
    loser.join(timeout=30)
    assert not loser.is_alive() and errors == []
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").collect()
    assert [r["operation"] for r in history] == ["CREATE TABLE"]


def test_a_folder_that_never_becomes_the_table_is_refused(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writes, "_CREATE_WAIT_S", 1.0)
    settings = make_settings(tmp_path / "lake")
    path = settings.table_path(tables.MODELS)
    _plant_unfinished_creation(path)
    with pytest.raises(AnalysisException) as refused:
        writes.ensure(spark, settings, tables.MODELS)
    assert str(path) in str(refused.value)


def test_a_concurrently_created_table_with_other_columns_is_refused(
    spark: Any, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "lake")
    # `models` created at the path of `customers`: a table, but not the catalogue's.
    other = writes.ensure(spark, make_settings(tmp_path / "other"), tables.MODELS)
    path = settings.table_path(tables.CUSTOMERS)
    _plant_unfinished_creation(path)
    timer = threading.Timer(1.0, _finish_creation, (other, path))
    timer.start()
    with pytest.raises(AnalysisException):
        writes.ensure(spark, settings, tables.CUSTOMERS)
    timer.join()
