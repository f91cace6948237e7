"""Rows of a CSV export grouped into order events, with a report of what was skipped.

The format-specific part is a function that turns one row into a `Line` (or None for an
anonymous row, or raises `RowError`); `read_orders` does the rest: grouping the lines of
each order into one event, dropping an order whole when one of its rows is unreadable, and
counting every skipped row by reason. Event ids are hashes of the order's identity, so a
file read twice gives the same ids.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Protocol

from segstream.contracts.events import Event, EventType, Item, out_of_bounds
from segstream.errors import SegstreamError

CENTS = Decimal("0.01")
MISSING_CUSTOMER_ID = "missing_customer_id"
INCOMPLETE_ORDER = "incomplete_order"
ZERO_AMOUNT_RETURN = "zero_amount_return"
OUT_OF_BOUNDS = "out_of_bounds"
# Spreadsheets and pandas turn integer ids into floats: "17850.0" is customer 17850.
_FLOAT_ID = re.compile(r"^(\d+)\.0+$")


class ReplayError(SegstreamError, ValueError):
    """The file or the mapping cannot be replayed at all (not a single bad row)."""

    exit_code = 2


@dataclass(frozen=True)
class ReadOptions:
    """How to read values.

    Attributes:
        date_format: strptime format of the timestamps; None = ISO-8601.
        timezone: zone of timestamps without an offset.
        currency: ISO-4217 code of the amounts.
    """

    date_format: str | None = None
    timezone: tzinfo = UTC
    currency: str = "USD"


@dataclass(frozen=True)
class Problem:
    """A row (or order) that was skipped, with its line number in the file."""

    line: int
    reason: str
    detail: str


@dataclass(frozen=True)
class ReplayReport:
    """What reading a file found; `skipped` counts rows by reason."""

    rows_read: int
    orders: int
    returns: int
    skipped: Mapping[str, int]
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class Replay:
    """The events of a file, oldest first, and the report of reading it."""

    events: tuple[Event, ...]
    report: ReplayReport


class RowError(SegstreamError):
    """Why one row cannot be read."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class _Order:
    """The lines of one order read so far."""

    identity: str
    customer_id: str
    order_id: str
    event_type: EventType
    first_line: int
    event_time: datetime
    country: str | None
    amount: Decimal = Decimal("0.00")
    items: list[Item] = field(default_factory=list)
    lines: int = 0


@dataclass(frozen=True)
class Line:
    """One readable row: the order it belongs to (by `identity`) and what it adds."""

    identity: str
    customer_id: str
    order_id: str
    event_type: EventType
    event_time: datetime
    amount: Decimal
    item: Item | None
    country: str | None


class Rows(Protocol):
    """A csv reader: rows, and the file line the last one ended on."""

    @property
    def line_num(self) -> int: ...

    def __iter__(self) -> Iterator[list[str]]: ...

    def __next__(self) -> list[str]: ...


LineReader = Callable[[list[str]], Line | None]


def read_orders(
    reader: Rows, width: int, order_column: int, line: LineReader, options: ReadOptions
) -> Replay:
    """Reads all rows after the header into order events.

    Args:
        reader: a csv reader positioned after the header.
        width: the header's number of fields; rows of another width are malformed.
        order_column: where the order id is, to drop the order of an unreadable row.
        line: reads one row (see the module docstring).
        options: the currency of the events.
    """
    orders: dict[str, _Order] = {}
    skipped: Counter[str] = Counter()
    problems: list[Problem] = []
    # Orders with an unreadable row, and the lines of those rows.
    broken: dict[str, list[int]] = {}
    rows = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rows += 1
            skipped["malformed_row"] += 1
            problems.append(Problem(reader.line_num, "malformed_row", str(exc)))
            continue
        rows += 1
        number = reader.line_num
        try:
            if len(row) != width:
                raise RowError("malformed_row", f"{len(row)} fields, the header has {width}")
            parsed = line(row)
        except RowError as exc:
            skipped[exc.reason] += 1
            problems.append(Problem(number, exc.reason, exc.detail))
            if len(row) == width and row[order_column].strip():
                broken.setdefault(row[order_column].strip(), []).append(number)
            continue
        if parsed is None:
            skipped[MISSING_CUSTOMER_ID] += 1
            continue
        order = orders.get(parsed.identity)
        if order is None:
            order = orders[parsed.identity] = _Order(
                parsed.identity,
                parsed.customer_id,
                parsed.order_id,
                parsed.event_type,
                number,
                parsed.event_time,
                parsed.country,
            )
        order.event_time = min(order.event_time, parsed.event_time)
        order.amount += parsed.amount
        order.country = order.country or parsed.country
        order.lines += 1
        if parsed.item is not None:
            order.items.append(parsed.item)

    events: list[Event] = []
    for order in orders.values():
        if order.order_id in broken:
            lines = ", ".join(str(n) for n in broken[order.order_id])
            skipped[INCOMPLETE_ORDER] += order.lines
            detail = f"order {order.order_id} dropped: line {lines} unreadable"
            problems.append(Problem(order.first_line, INCOMPLETE_ORDER, detail))
        elif order.event_type == "return" and order.amount == 0:
            skipped[ZERO_AMOUNT_RETURN] += order.lines
            detail = f"return {order.order_id} has amount 0"
            problems.append(Problem(order.first_line, ZERO_AMOUNT_RETURN, detail))
        else:
            event = _event(order, options)
            beyond = out_of_bounds(event)
            if beyond is None:
                events.append(event)
            else:
                # The stream would quarantine it: say so here, where the row is known.
                skipped[OUT_OF_BOUNDS] += order.lines
                detail = f"order {order.order_id} dropped: {beyond}"
                problems.append(Problem(order.first_line, OUT_OF_BOUNDS, detail))
    # Stable: orders at the same time keep the file's order.
    events.sort(key=lambda e: e.event_time)
    report = ReplayReport(
        rows_read=rows,
        orders=sum(1 for e in events if e.event_type == "purchase"),
        returns=sum(1 for e in events if e.event_type == "return"),
        skipped=dict(skipped),
        problems=tuple(sorted(problems, key=lambda p: p.line)),
    )
    return Replay(tuple(events), report)


def _event(order: _Order, options: ReadOptions) -> Event:
    return Event(
        event_id=hashlib.sha1(order.identity.encode("utf-8"), usedforsecurity=False).hexdigest(),
        event_type=order.event_type,
        customer_id=order.customer_id,
        order_id=order.order_id,
        event_time=order.event_time,
        amount=order.amount.quantize(CENTS),
        items=tuple(order.items),
        currency=options.currency,
        country=order.country,
    )


def columns(header: list[str], needed: Sequence[str]) -> dict[str, int]:
    """Where each needed column is in the header.

    Raises:
        ReplayError: some are missing.
    """
    missing = [c for c in needed if c not in header]
    if missing:
        raise ReplayError(f"columns {', '.join(missing)} not in the header {header}")
    return {c: header.index(c) for c in needed}


def customer_id(text: str) -> str:
    """The customer id in a cell, without whitespace or a spreadsheet's ".0"."""
    text = text.strip()
    float_id = _FLOAT_ID.match(text)
    return float_id.group(1) if float_id else text


def parse_int(text: str, name: str) -> int:
    """A quantity cell of column `name`; raises `RowError` if it is no integer."""
    try:
        return int(text.strip())
    except ValueError:
        raise RowError("invalid_quantity", f"{name} {text!r} is not an integer") from None


def parse_money(text: str, name: str, reason: str) -> Decimal:
    """A money cell of column `name` in cents; raises `RowError(reason)` if it is no number."""
    try:
        value = Decimal(text.strip()).quantize(CENTS, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        # Not a number at all, or too many digits to be money.
        value = Decimal("NaN")
    if not value.is_finite():
        raise RowError(reason, f"{name} {text!r} is not a number")
    return value


def parse_time(text: str, name: str, options: ReadOptions) -> datetime:
    """A timestamp cell of column `name` in UTC; one without an offset is taken to be in
    `options.timezone`. Raises `RowError` if it does not match the expected format."""
    text = text.strip()
    try:
        if options.date_format:
            value = datetime.strptime(text, options.date_format)
        else:
            value = datetime.fromisoformat(text)
    except ValueError:
        expected = repr(options.date_format) if options.date_format else "ISO-8601"
        raise RowError("invalid_date", f"{name} {text!r} does not match {expected}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=options.timezone)
    return value.astimezone(UTC)
