"""`verify` recomputes customer_rfm from events independently: equal on a correct table, and
it names a customer whose row was tampered with."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from delta.tables import DeltaTable

from batch import verify
from cli.main import main
from segstream.contracts import tables
from tests.conftest import make_settings

pytestmark = pytest.mark.spark


def event(eid: str, kind: str, cid: str, day: int, amount: str, items: int) -> tuple[object, ...]:
    t = datetime(2024, 5, day, 12, tzinfo=UTC)
    return (
        eid,
        kind,
        cid,
        f"o-{eid}",
        t,
        t.date(),
        Decimal(amount),
        None,
        items,
        "USD",
        None,
        None,
        None,
        "transactions",
        0,
        int(eid[1:]),
        0,
        t,
    )


EVENTS = [
    event("e1", "purchase", "a", 1, "10.00", 1),
    event("e2", "purchase", "a", 3, "5.50", 2),
    event("e3", "return", "a", 4, "5.50", 0),
    event("e4", "purchase", "b", 2, "99.99", 3),
    event("e5", "return", "c", 5, "1.00", 0),  # a return only
    event("e4", "purchase", "b", 2, "99.99", 3),  # the same event twice in bronze
]


def test_verify_passes_on_a_correct_table_and_catches_a_planted_mismatch(
    spark, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path)
    events = spark.createDataFrame(EVENTS, tables.EVENTS_SCHEMA)
    events.write.format("delta").save(str(settings.table_path(tables.EVENTS)))
    rfm_path = str(settings.table_path(tables.CUSTOMER_RFM))

    # customer_rfm as the stream keeps it, worked out by hand from the distinct events.
    def day(d: int) -> datetime:
        return datetime(2024, 5, d, 12, tzinfo=UTC)

    m = Decimal
    rfm = [
        ("a", day(1), day(3), 2, m("15.50"), m("5.50"), m("10.00"), 3, day(4), day(9)),
        ("b", day(2), day(2), 1, m("99.99"), m("0.00"), m("99.99"), 3, day(2), day(9)),
        ("c", None, None, 0, m("0.00"), m("1.00"), m("-1.00"), 0, day(5), day(9)),
    ]
    spark.createDataFrame(rfm, tables.CUSTOMER_RFM_SCHEMA).write.format("delta").save(rfm_path)

    ok = verify.run(spark, settings)
    assert (ok.ok, ok.customers, ok.differing) == (True, 3, 0)

    DeltaTable.forPath(spark, rfm_path).update("customer_id = 'b'", {"orders": "orders + 1"})
    DeltaTable.forPath(spark, rfm_path).delete("customer_id = 'c'")
    bad = verify.run(spark, settings)
    assert (bad.ok, bad.differing) == (False, 2)
    assert [(d.customer_id, d.columns) for d in bad.sample] == [
        ("b", ("orders",)),
        ("c", ("missing",)),
    ]
    assert (bad.sample[0].expected, bad.sample[0].actual) == ({"orders": 1}, {"orders": 2})

    # The command exits 1 and lists the customers.
    code = main(["verify", "--lake", str(settings.lake), "--home", str(settings.home)])
    assert code == 1
    out = capsys.readouterr().out
    assert "differs" in out and "b: orders: expected 1, found 2" in out and "c: missing" in out
