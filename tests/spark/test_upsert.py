"""`writes.upsert` (delta-rs, from the driver) on a table Spark created and writes: exactly
once per idempotency key, the rows a hand-kept dictionary expects, Spark's deletion vectors
applied, and keys Spark and delta-rs both honour."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from deltalake import DeltaTable as RustDeltaTable

from segstream.contracts import tables
from segstream.lake import writes
from tests.conftest import make_settings

pytestmark = pytest.mark.spark

AT = datetime(2024, 5, 1)
UPDATE = {"country": "s.country", "kafka_offset": "s.kafka_offset"}


def _frame(spark, ids: range, country: str, offset: int):  # type: ignore[no-untyped-def]
    rows = [(f"c{i}", None, None, None, country, None, None, None, 0, offset, AT) for i in ids]
    return spark.createDataFrame(rows, tables.CUSTOMERS_SCHEMA)


def _countries(spark, path: Path) -> dict[str, tuple[str, int]]:  # type: ignore[no-untyped-def]
    rows = spark.read.format("delta").load(str(path)).collect()
    found = {r.customer_id: (r.country, r.kafka_offset) for r in rows}
    assert len(found) == len(rows), "a customer has two rows"
    return found


def test_an_upsert_commits_once_per_key_and_a_replay_changes_nothing(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = writes.ensure(spark, make_settings(tmp_path), tables.CUSTOMERS)
    expected: dict[str, tuple[str, int]] = {}

    first = writes.upsert(
        _frame(spark, range(10), "NL", 1), path, "customer_id", UPDATE, txn=writes.Txn("app", 1)
    )
    expected.update({f"c{i}": ("NL", 1) for i in range(10)})
    second = writes.upsert(
        _frame(spark, range(5, 15), "BE", 2), path, "customer_id", UPDATE, txn=writes.Txn("app", 2)
    )
    expected.update({f"c{i}": ("BE", 2) for i in range(5, 15)})
    # A replay of batch 2 with other rows (as a recomputation could give), and an older batch.
    replay = writes.upsert(
        _frame(spark, range(20), "DE", 3), path, "customer_id", UPDATE, txn=writes.Txn("app", 2)
    )
    older = writes.upsert(
        _frame(spark, range(20), "FR", 4), path, "customer_id", UPDATE, txn=writes.Txn("app", 1)
    )
    # Another writer's key is its own.
    other = writes.upsert(
        _frame(spark, range(1), "IT", 5),
        path,
        "customer_id",
        UPDATE,
        txn=writes.Txn("other", 1),
        insert="none",
    )
    expected["c0"] = ("IT", 5)

    assert (first["num_target_rows_inserted"], first["num_target_rows_updated"]) == (10, 0)
    assert (second["num_target_rows_inserted"], second["num_target_rows_updated"]) == (5, 5)
    assert replay == {} and older == {}
    assert (other["num_target_rows_inserted"], other["num_target_rows_updated"]) == (0, 1)
    assert _countries(spark, path) == expected
    # Spark sees delta-rs's key: its own append for an app and batch already committed is a
    # no-op, as the lake part's appends after its upserts are on a replay.
    writes.append(_frame(spark, range(30, 31), "PL", 6), path, writes.Txn("app", 2))
    assert _countries(spark, path) == expected


def test_an_upsert_applies_the_deletion_vectors_of_sparks_writes(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = writes.ensure(spark, make_settings(tmp_path), tables.CUSTOMERS)
    _frame(spark, range(10), "NL", 1).write.format("delta").mode("append").save(str(path))
    DeltaTable.forPath(spark, str(path)).delete("customer_id IN ('c1', 'c2', 'c3')")
    assert RustDeltaTable(str(path)).deletion_vectors().read_all().num_rows == 1

    metrics = writes.upsert(_frame(spark, range(2, 12), "BE", 2), path, "customer_id", UPDATE)

    # c2 and c3 were deleted: inserted again, not updated, and c1 stays deleted.
    assert (metrics["num_target_rows_inserted"], metrics["num_target_rows_updated"]) == (4, 6)
    expected = {f"c{i}": ("NL", 1) for i in (0,)} | {f"c{i}": ("BE", 2) for i in range(2, 12)}
    assert _countries(spark, path) == expected
