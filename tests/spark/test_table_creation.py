"""Two writers creating the same table on a fresh lake (the stream and the scheduler both
need `models` at start): both succeed and the table is created once."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from segstream.config import Settings
from segstream.contracts import tables
from segstream.lake import writes
from tests.conftest import make_settings


def _create_twice_at_once(spark: Any, settings: Settings, name: str) -> list[BaseException]:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def create() -> None:
        barrier.wait()
        try:
            writes.ensure(spark, settings, name)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(2)]
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
