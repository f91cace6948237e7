from __future__ import annotations

import io
import logging
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cli.main import main
from producers.orders_csv import Problem, ReadOptions, ReplayError, ReplayReport
from producers.replay import parse_mapping, read_generic, read_online_retail, rebase
from segstream.contracts.events import Event, Item

pytestmark = pytest.mark.unit

# Single-quoted: the CSV's escaped quotes ("") would end a double-quoted literal.
RETAIL_CSV = '''\
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,"WHITE HANGING HEART T-LIGHT HOLDER, LARGE",6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom
536365,71053,"METAL LANTERN, ""WHITE""",6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom
536366,22633,"HAND WARMER, UNION JACK",6,2010-12-01 08:28:00,1.85,,United Kingdom
536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,01/12/2010 08:34,1.69,13047,United Kingdom
536367,22745,"POPPY'S PLAYHOUSE, BEDROOM",6,2010-12-01 08:34:00,2.10,13047,United Kingdom
536368,22960,JAM MAKING SET WITH JARS,2,2010-12-01 08:34:00,4.25,13047.0,United Kingdom
C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527.0,United Kingdom
536370,22728,"ALARM CLOCK BAKELIKE PINK",24,2010-12-01 08:45:00,3.75,12583,France
'''

GBP = ReadOptions(currency="GBP")
UK = "United Kingdom"

RETAIL_EVENTS = (
    Event(
        event_id="86436f0924509553e9b2f8a45f1ce421e6d18bb5",
        event_type="purchase",
        customer_id="17850",
        order_id="536365",
        event_time=datetime(2010, 12, 1, 8, 26, tzinfo=UTC),
        amount=Decimal("35.64"),
        items=(
            Item("85123A", "uncategorized", 6, Decimal("2.55")),
            Item("71053", "uncategorized", 6, Decimal("3.39")),
        ),
        currency="GBP",
        country=UK,
    ),
    Event(
        event_id="9327d1c1112f0b67b0e105474e51cfc93bee9a54",
        event_type="purchase",
        customer_id="13047",
        order_id="536368",
        event_time=datetime(2010, 12, 1, 8, 34, tzinfo=UTC),
        amount=Decimal("8.50"),
        items=(Item("22960", "uncategorized", 2, Decimal("4.25")),),
        currency="GBP",
        country=UK,
    ),
    Event(
        event_id="8ea0fad36b31d9beda8e11eb2105cabd609beba7",
        event_type="purchase",
        customer_id="12583",
        order_id="536370",
        event_time=datetime(2010, 12, 1, 8, 45, tzinfo=UTC),
        amount=Decimal("90.00"),
        items=(Item("22728", "uncategorized", 24, Decimal("3.75")),),
        currency="GBP",
        country="France",
    ),
    Event(
        event_id="75825981d63e7f90c71eb00c857bc8e71d0f9548",
        event_type="return",
        customer_id="14527",
        order_id="C536379",
        event_time=datetime(2010, 12, 1, 9, 41, tzinfo=UTC),
        amount=Decimal("27.50"),
        items=(Item("D", "uncategorized", 1, Decimal("27.50")),),
        currency="GBP",
        country=UK,
    ),
)

RETAIL_REPORT = ReplayReport(
    rows_read=8,
    orders=3,
    returns=1,
    skipped={"missing_customer_id": 1, "invalid_date": 1, "incomplete_order": 1},
    problems=(
        Problem(5, "invalid_date", "InvoiceDate '01/12/2010 08:34' does not match ISO-8601"),
        Problem(6, "incomplete_order", "order 536367 dropped: line 5 unreadable"),
    ),
)


def test_online_retail_export_becomes_exactly_these_events_and_report() -> None:
    result = read_online_retail(io.StringIO(RETAIL_CSV, newline=""), GBP)
    assert result.events == RETAIL_EVENTS
    assert result.report == RETAIL_REPORT


def test_replaying_twice_gives_the_same_event_ids() -> None:
    first = read_online_retail(io.StringIO(RETAIL_CSV, newline=""), GBP)
    second = read_online_retail(io.StringIO(RETAIL_CSV, newline=""), GBP)
    assert [e.event_id for e in first.events] == [e.event_id for e in second.events]


def test_uci_dates_with_an_explicit_format_and_zone() -> None:
    csv_text = """\
Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country
536365,85123A,"HEART, LARGE",6,12/1/2010 8:26,2.55,17850.0,United Kingdom
555000,71053,LANTERN,1,6/1/2011 9:05,3.39,17850.0,United Kingdom
555001,71053,LANTERN,1,13/1/2011 9:05,3.39,17850.0,United Kingdom
555002,71053,LANTERN,1,6/1/2011 9:05,3.39
"""
    options = ReadOptions("%m/%d/%Y %H:%M", ZoneInfo("Europe/London"), "GBP")
    result = read_online_retail(io.StringIO(csv_text, newline=""), options)
    assert [(e.order_id, e.event_time) for e in result.events] == [
        ("536365", datetime(2010, 12, 1, 8, 26, tzinfo=UTC)),  # GMT in winter
        ("555000", datetime(2011, 6, 1, 8, 5, tzinfo=UTC)),  # BST in summer
    ]
    assert result.report == ReplayReport(
        rows_read=4,
        orders=2,
        returns=0,
        skipped={"invalid_date": 1, "malformed_row": 1},
        problems=(
            Problem(
                4, "invalid_date", "InvoiceDate '13/1/2011 9:05' does not match '%m/%d/%Y %H:%M'"
            ),
            Problem(5, "malformed_row", "6 fields, the header has 8"),
        ),
    )


def test_wrong_signs_and_prices_are_reported() -> None:
    csv_text = """\
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
1,A,a,-2,2011-01-01 10:00:00,1.00,7,UK
C2,A,a,2,2011-01-01 10:00:00,1.00,7,UK
3,A,a,1,2011-01-01 10:00:00,-1.00,7,UK
4,A,a,1,2011-01-01 10:00:00,n/a,7,UK
C5,A,a,-1,2011-01-01 10:00:00,0.00,7,UK
"""
    result = read_online_retail(io.StringIO(csv_text, newline=""), GBP)
    assert result.events == ()
    assert result.report.problems == (
        Problem(2, "invalid_quantity", "Quantity -2 in a purchase"),
        Problem(3, "invalid_quantity", "Quantity 2 in a cancellation"),
        Problem(4, "invalid_price", "UnitPrice -1.00 is negative"),
        Problem(5, "invalid_price", "UnitPrice 'n/a' is not a number"),
        Problem(6, "zero_amount_return", "return C5 has amount 0"),
    )


def test_orders_beyond_the_contracts_bounds_are_reported_and_the_rest_replayed() -> None:
    csv_text = """\
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
1,A,a,2,2011-01-01 10:00:00,600000000.00,7,UK
2,A,a,1000001,2011-01-01 10:00:00,1.00,7,UK
3,A,a,1,1900-01-01 10:00:00,1.00,7,UK
4,A,a,1,2011-01-01 10:00:00,1.00,8,UK
"""
    result = read_online_retail(io.StringIO(csv_text, newline=""), GBP)
    assert [(e.order_id, e.amount) for e in result.events] == [("4", Decimal("1.00"))]
    assert result.report.skipped == {"out_of_bounds": 3}
    assert result.report.problems == (
        Problem(2, "out_of_bounds", "order 1 dropped: amount 1200000000.00 above 1000000000.00"),
        Problem(3, "out_of_bounds", "order 2 dropped: item quantity 1000001 above 1000000"),
        Problem(
            4,
            "out_of_bounds",
            "order 3 dropped: event_time 1900-01-01T10:00:00.000000+00:00 before "
            "1990-01-01T00:00:00.000000+00:00",
        ),
    )


GENERIC_CSV = """\
order,cust,ts,sku,qty,price,type,cat
A-1,u1,2024-05-01T10:00:00+02:00,S1,2,9.99,purchase,toys
A-1,u1,2024-05-01T10:00:00+02:00,S2,1,0.50,Purchase,books
A-1,u1,2024-05-03T12:00:00+02:00,S1,-1,9.99,return,toys
A-2,17850.0,2024-05-02T09:00:00Z,S3,3,1.005,,
A-3,u2,2024-05-02T09:30:00Z,S4,x,1.00,purchase,
"""
GENERIC_MAP = (
    "customer_id=cust, order_id=order, event_time=ts, quantity=qty, unit_price=price, "
    "sku=sku, category=cat, event_type=type"
)


def test_generic_mapping_with_lines_becomes_exactly_these_events() -> None:
    mapping = parse_mapping(GENERIC_MAP)
    result = read_generic(io.StringIO(GENERIC_CSV, newline=""), mapping, ReadOptions())
    assert result.events == (
        Event(
            event_id="b4859c54d8e609e35c5b882dff7e8b3450093247",
            event_type="purchase",
            customer_id="u1",
            order_id="A-1",
            event_time=datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
            amount=Decimal("20.48"),
            items=(Item("S1", "toys", 2, Decimal("9.99")), Item("S2", "books", 1, Decimal("0.50"))),
        ),
        Event(
            event_id="b4dee00cc254261f17c3f3aa2bbf45fd4782e1fb",
            event_type="purchase",
            customer_id="17850",
            order_id="A-2",
            event_time=datetime(2024, 5, 2, 9, 0, tzinfo=UTC),
            amount=Decimal("3.03"),
            items=(Item("S3", "uncategorized", 3, Decimal("1.01")),),
        ),
        Event(
            event_id="2fa54f409804bdf36e5d10fcb8615d01cc6ac05a",
            event_type="return",
            customer_id="u1",
            order_id="A-1",
            event_time=datetime(2024, 5, 3, 10, 0, tzinfo=UTC),
            amount=Decimal("9.99"),
            items=(Item("S1", "toys", 1, Decimal("9.99")),),
        ),
    )
    assert result.report == ReplayReport(
        rows_read=5,
        orders=2,
        returns=1,
        skipped={"invalid_quantity": 1},
        problems=(Problem(6, "invalid_quantity", "qty 'x' is not an integer"),),
    )


def test_generic_mapping_with_amounts_and_signs() -> None:
    csv_text = """\
ref,client,paid_at,total
P1,c9,2024-01-01 10:00:00,100.00
P1,c9,2024-01-01 10:05:00,-20.00
P2,c9,2024-01-02 10:00:00,abc
"""
    mapping = parse_mapping("customer_id=client,order_id=ref,event_time=paid_at,amount=total")
    result = read_generic(io.StringIO(csv_text, newline=""), mapping, ReadOptions(currency="EUR"))
    assert result.events == (
        Event(
            event_id="d537272ee03083d8c30572ddad29046bb7ebe5e2",
            event_type="purchase",
            customer_id="c9",
            order_id="P1",
            event_time=datetime(2024, 1, 1, 10, 0, tzinfo=UTC),
            amount=Decimal("100.00"),
            currency="EUR",
        ),
        Event(
            event_id="fa7c62a0bdd4abac3c981d58d97c407b31e5121d",
            event_type="return",
            customer_id="c9",
            order_id="P1",
            event_time=datetime(2024, 1, 1, 10, 5, tzinfo=UTC),
            amount=Decimal("20.00"),
            currency="EUR",
        ),
    )
    assert result.report == ReplayReport(
        rows_read=3,
        orders=1,
        returns=1,
        skipped={"invalid_amount": 1},
        problems=(Problem(4, "invalid_amount", "total 'abc' is not a number"),),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("customer_id=a,order_id=b", "needs event_time"),
        ("customer_id=a,order_id=b,event_time=c", "needs amount, or quantity and unit_price"),
        ("customer_id=a,order_id=b,event_time=c,amount=d,price=e", "field 'price' unknown"),
        ("customer_id=a,customer_id=b", "given twice"),
        ("customer_id", "is not FIELD=COLUMN"),
    ],
)
def test_bad_mappings_are_refused(text: str, message: str) -> None:
    with pytest.raises(ReplayError, match=message):
        parse_mapping(text)


def test_a_file_without_the_mapped_columns_is_refused() -> None:
    mapping = parse_mapping("customer_id=a,order_id=b,event_time=c,amount=total")
    with pytest.raises(ReplayError, match="columns total not in the header"):
        read_generic(io.StringIO("a,b,c\n1,2,3\n"), mapping, ReadOptions())


def test_rebase_moves_whole_weeks_into_the_past_week() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # a Monday
    rebased = rebase(RETAIL_EVENTS, now)
    assert [e.event_time for e in rebased] == [
        datetime(2026, 11, 25, 8, 26, tzinfo=UTC),  # Wednesdays, like 2010-12-01
        datetime(2026, 11, 25, 8, 34, tzinfo=UTC),
        datetime(2026, 11, 25, 8, 45, tzinfo=UTC),
        datetime(2026, 11, 25, 9, 41, tzinfo=UTC),
    ]
    assert [
        replace(e, event_time=o.event_time) for e, o in zip(rebased, RETAIL_EVENTS, strict=True)
    ] == list(RETAIL_EVENTS)
    assert rebase((), now) == ()


def test_replay_dry_run_reads_reports_and_publishes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    export = tmp_path / "retail.csv"
    export.write_text(RETAIL_CSV, encoding="utf-8")
    with caplog.at_level(logging.INFO):
        assert main(["replay", str(export), "--dry-run", "--lake", str(tmp_path / "lake")]) == 0
    text = caplog.text
    assert "line 5 skipped (invalid_date)" in text
    assert (
        "8 rows read: 3 orders, 1 returns; rows skipped: 1 incomplete_order, 1 invalid_date, "
        "1 missing_customer_id" in text
    )


def test_replay_refuses_generic_without_a_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "sales.csv"
    export.write_text("a,b\n", encoding="utf-8")
    assert main(["replay", str(export), "--format", "generic", "--dry-run"]) == 2
    assert "--format generic needs --map" in capsys.readouterr().err


def test_replay_help_explains_options_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["replay", "--help"])
    text = capsys.readouterr().out
    for option in ("--format", "--map", "--date-format", "--rebase-to-now", "--speedup", "--rate"):
        assert option in text
    assert "examples:" in text and "segstream replay sales.csv --format generic" in text
