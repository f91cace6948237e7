"""Compaction rewrites a fragmented table (small appends, MERGE deletion vectors) into one file
with exactly the same rows, VACUUM deletes the replaced files past the retention (also one
below Delta's 168 h), a table that fails is reported while the others are still compacted,
and tables that do not exist are skipped."""

from __future__ import annotations

from datetime import datetime

import pytest
from delta.tables import DeltaTable

from batch import compact
from segstream.contracts import tables
from segstream.lake import writes
from tests.conftest import make_settings

pytestmark = pytest.mark.spark

AT = datetime(2024, 5, 1)


def _rows(ids: range, country: str) -> list[tuple[object, ...]]:
    return [(f"c{i}", None, 1980 + i, None, country, None, None, None, 0, i, AT) for i in ids]


def _files(spark, path: str) -> int:  # type: ignore[no-untyped-def]
    return int(DeltaTable.forPath(spark, path).detail().collect()[0].numFiles)


def test_compaction_keeps_exactly_the_rows_and_leaves_one_file(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A retention of 0 h lets VACUUM delete the replaced files at once.
    settings = make_settings(tmp_path, compact_retention_h=0)
    path = writes.ensure(spark, settings, tables.CUSTOMERS)
    # Compacted before `customers`, and broken: its second commit is not JSON.
    broken = writes.ensure(spark, settings, tables.QUARANTINE)
    (broken / "_delta_log" / "00000000000000000001.json").write_text("{not json\n")
    for start in (0, 10, 20):
        frame = spark.createDataFrame(
            _rows(range(start, start + 10), "NL"), tables.CUSTOMERS_SCHEMA
        )
        frame.write.format("delta").mode("append").save(str(path))
    # Updates through a MERGE leave deletion vectors on the files of c5 and c25.
    changed = spark.createDataFrame(_rows(range(5, 26, 20), "BE"), tables.CUSTOMERS_SCHEMA)
    (
        DeltaTable.forPath(spark, str(path))
        .alias("t")
        .merge(changed.alias("s"), "t.customer_id = s.customer_id")
        .whenMatchedUpdate(set={"country": "s.country"})
        .execute()
    )
    expected = {f"c{i}": "BE" if i in (5, 25) else "NL" for i in range(30)}
    before = _files(spark, str(path))
    assert before >= 4  # three appends and the MERGE's own file, at least

    done = compact.run(spark, settings)

    assert [(c.table, c.error is not None) for c in done] == [
        (tables.QUARANTINE, True),
        (tables.CUSTOMERS, False),
    ]
    assert done[1] == compact.Compacted(tables.CUSTOMERS, files_removed=before, files_added=1)
    with pytest.raises(compact.CompactionError, match="1 of 2 tables not compacted: quarantine"):
        compact.check(done)
    # Delta's guard was lifted for that VACUUM only.
    assert spark.conf.get(compact.RETENTION_CHECK, None) is None
    assert _files(spark, str(path)) == 1
    assert len(list(path.glob("*.parquet"))) == 1
    assert not list(path.glob("deletion_vector_*.bin"))
    rows = spark.read.format("delta").load(str(path)).select("customer_id", "country").collect()
    assert len(rows) == 30
    assert {r.customer_id: r.country for r in rows} == expected
    # Nothing left to do: a second run rewrites nothing. With the default retention VACUUM
    # keeps the file replaced a moment ago.
    again = compact.run(spark, make_settings(tmp_path))
    assert again[1:] == [compact.Compacted(tables.CUSTOMERS, 0, 0)]
