"""Real transaction exports as contract events: parsing only, no I/O beyond the lines given.

Two formats: the UCI Online Retail export (one row per invoice line) and a generic CSV
whose columns are named by a mapping. Rows of one order become one event. A row that
cannot be read is skipped and reported with its line number and why, and the order it
belongs to is dropped whole rather than published short of a line. Event ids are hashes
of the order's identity, so replaying a file twice yields the same ids and the stream
drops the second copy. Prices and amounts are rounded to cents, the contract's precision.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from producers.orders_csv import (
    Line,
    ReadOptions,
    Replay,
    ReplayError,
    ReplayReport,
    RowError,
    columns,
    customer_id,
    parse_int,
    parse_money,
    parse_time,
    read_orders,
)
from segstream.contracts.events import Event, EventType, Item

log = logging.getLogger(__name__)

UNCATEGORIZED = "uncategorized"
# Online Retail II names three columns differently; both exports read the same.
_RETAIL_ALIASES = {"Invoice": "InvoiceNo", "Price": "UnitPrice", "Customer ID": "CustomerID"}
RETAIL_COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
MAP_FIELDS = (
    "customer_id",
    "order_id",
    "event_time",
    "amount",
    "quantity",
    "unit_price",
    "sku",
    "category",
    "country",
    "event_type",
)
# Problems logged one by one per reason before only counting them.
_LOGGED_PER_REASON = 20


def parse_mapping(text: str) -> dict[str, str]:
    """Parses `--map customer_id=COL,order_id=COL,...` into {field: column}.

    Raises:
        ReplayError: an unknown field, a repeated field, or a required one missing.
    """
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, column = part.partition("=")
        name, column = name.strip(), column.strip()
        if not sep or not column:
            raise ReplayError(f"--map entry {part!r} is not FIELD=COLUMN")
        if name not in MAP_FIELDS:
            raise ReplayError(f"--map field {name!r} unknown; fields: {', '.join(MAP_FIELDS)}")
        if name in mapping:
            raise ReplayError(f"--map field {name!r} given twice")
        mapping[name] = column
    missing = [f for f in ("customer_id", "order_id", "event_time") if f not in mapping]
    if missing:
        raise ReplayError(f"--map needs {', '.join(missing)}")
    if "amount" not in mapping and not {"quantity", "unit_price"} <= mapping.keys():
        raise ReplayError("--map needs amount, or quantity and unit_price")
    return mapping


def read_online_retail(lines: Iterable[str], options: ReadOptions) -> Replay:
    """Reads a UCI Online Retail CSV: an invoice's rows are one order; an invoice number
    starting with "C" is a cancellation, replayed as a return of its positive amount
    (the export does not say which invoice it cancels, so its own number is the order id).
    Rows without a CustomerID are anonymous sales: skipped and counted, not logged."""
    reader = csv.reader(lines)
    header = [_RETAIL_ALIASES.get(h.strip(), h.strip()) for h in next(reader, [])]
    column = columns(header, RETAIL_COLUMNS)

    def line(row: list[str]) -> Line | None:
        invoice = row[column["InvoiceNo"]].strip()
        customer = customer_id(row[column["CustomerID"]])
        if not customer:
            return None
        if not invoice:
            raise RowError("missing_order_id", "InvoiceNo is empty")
        cancelled = invoice.upper().startswith("C")
        quantity = parse_int(row[column["Quantity"]], "Quantity")
        if quantity == 0 or (quantity < 0) != cancelled:
            what = "a cancellation" if cancelled else "a purchase"
            raise RowError("invalid_quantity", f"Quantity {quantity} in {what}")
        price = parse_money(row[column["UnitPrice"]], "UnitPrice", "invalid_price")
        if price < 0:
            raise RowError("invalid_price", f"UnitPrice {price} is negative")
        item = Item(row[column["StockCode"]].strip(), UNCATEGORIZED, abs(quantity), price)
        return Line(
            identity=f"retail:{invoice}:{customer}",
            customer_id=customer,
            order_id=invoice,
            event_type="return" if cancelled else "purchase",
            event_time=parse_time(row[column["InvoiceDate"]], "InvoiceDate", options),
            amount=item.total,
            item=item,
            country=row[column["Country"]].strip() or None,
        )

    return read_orders(reader, len(header), column["InvoiceNo"], line, options)


def read_generic(lines: Iterable[str], mapping: Mapping[str, str], options: ReadOptions) -> Replay:
    """Reads a CSV whose columns `mapping` names (see `parse_mapping`); rows with the same
    order id, customer and event type are one order.

    The amount is the `amount` column, else quantity x unit_price. Without an
    `event_type` column a negative amount (or quantity) makes the row a return; with one,
    returns may be signed either way and a negative purchase is an error.
    """
    reader = csv.reader(lines)
    header = [h.strip() for h in next(reader, [])]
    column = columns(header, tuple(mapping.values()))
    at = {name: column[col] for name, col in mapping.items()}

    def get(row: list[str], name: str) -> str:
        return row[at[name]].strip() if name in at else ""

    def line(row: list[str]) -> Line | None:
        customer = customer_id(get(row, "customer_id"))
        if not customer:
            return None
        order_id = get(row, "order_id")
        if not order_id:
            raise RowError("missing_order_id", f"{mapping['order_id']} is empty")
        item, total = None, Decimal("0.00")
        if "quantity" in at and "unit_price" in at:
            quantity = parse_int(get(row, "quantity"), mapping["quantity"])
            if quantity == 0:
                raise RowError("invalid_quantity", f"{mapping['quantity']} is 0")
            price = parse_money(get(row, "unit_price"), mapping["unit_price"], "invalid_price")
            if price < 0:
                raise RowError("invalid_price", f"{mapping['unit_price']} {price} is negative")
            sku = get(row, "sku") or "unknown"
            item = Item(sku, get(row, "category") or UNCATEGORIZED, abs(quantity), price)
            total = price * quantity
        value = (
            parse_money(get(row, "amount"), mapping["amount"], "invalid_amount")
            if "amount" in at
            else total
        )
        kind = get(row, "event_type").lower()
        if kind and kind not in ("purchase", "return"):
            raise RowError("invalid_event_type", f"event type {kind!r} is not purchase/return")
        if kind == "purchase" and value < 0:
            raise RowError("invalid_amount", f"negative amount {value} in a purchase")
        event_type: EventType = (
            "return" if kind == "return" or (not kind and value < 0) else "purchase"
        )
        return Line(
            identity=f"generic:{order_id}:{customer}:{event_type}",
            customer_id=customer,
            order_id=order_id,
            event_type=event_type,
            event_time=parse_time(get(row, "event_time"), mapping["event_time"], options),
            amount=abs(value),
            item=item,
            country=get(row, "country") or None,
        )

    return read_orders(reader, len(header), at["order_id"], line, options)


def rebase(events: Iterable[Event], now: datetime) -> tuple[Event, ...]:
    """Shifts all events by the whole number of weeks that brings the newest into the
    week before `now`, so gaps, weekdays and hours of day stay as they were."""
    events = tuple(events)
    if not events:
        return events
    newest = max(e.event_time for e in events)
    shift = timedelta(weeks=(now - newest) // timedelta(weeks=1))
    return tuple(replace(e, event_time=e.event_time + shift) for e in events)


def log_problems(report: ReplayReport) -> None:
    """Logs each skipped row with its line number (the first few per reason)."""
    logged: Counter[str] = Counter()
    for p in report.problems:
        logged[p.reason] += 1
        if logged[p.reason] <= _LOGGED_PER_REASON:
            log.warning("line %d skipped (%s): %s", p.line, p.reason, p.detail)
    for reason, n in logged.items():
        if n > _LOGGED_PER_REASON:
            log.warning("%d more lines skipped (%s)", n - _LOGGED_PER_REASON, reason)


def summary(report: ReplayReport) -> str:
    """One line: rows read, orders, returns and rows skipped by reason."""
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(report.skipped.items()))
    return (
        f"{report.rows_read} rows read: {report.orders} orders, {report.returns} returns; "
        f"rows skipped: {skipped or 'none'}"
    )
