"""`segstream replay`: publish a real transaction export (CSV) to Kafka."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from cli.commands import Add, _positive
from segstream.config import Settings

log = logging.getLogger("segstream")


def register(add: Add) -> None:
    p = add(
        "replay",
        cmd_replay,
        "publish a real transaction export (CSV) to Kafka as purchase and return events",
        "segstream replay data.csv",
        epilog="""\
Rows of one order become one event; event ids are hashes of the order's identity, so a
second replay of the same file is dropped by the stream as duplicates. Unreadable rows
are logged with their line number and skipped, with their whole order; a summary of rows
read, orders, returns and rows skipped by reason ends the run.

formats:
  online-retail  UCI Online Retail (I or II): InvoiceNo, StockCode, Description,
                 Quantity, InvoiceDate, UnitPrice, CustomerID, Country. Invoices starting
                 with C are cancellations, replayed as returns; rows without CustomerID
                 are skipped and counted; "17850.0" is customer 17850.
  generic        any CSV, columns named by --map; amount, or quantity x unit_price.

examples:
  segstream replay online_retail.csv --date-format "%m/%d/%Y %H:%M" --dry-run
  segstream replay online_retail.csv --date-format "%m/%d/%Y %H:%M" \\
      --timezone Europe/London --rebase-to-now --speedup 86400 --rate 1000
  segstream replay sales.csv --format generic \\
      --map customer_id=cust,order_id=order,event_time=ts,quantity=qty,unit_price=price
  segstream replay payments.csv --format generic --currency EUR \\
      --map customer_id=client,order_id=ref,event_time=paid_at,amount=total""",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="the CSV export to replay")
    p.add_argument(
        "--format",
        choices=["online-retail", "generic"],
        default="online-retail",
        help="layout of the file, see below (default online-retail)",
    )
    p.add_argument(
        "--map",
        metavar="FIELD=COL,...",
        help="generic format: columns of customer_id, order_id, event_time and amount (or "
        "quantity and unit_price); optional sku, category, country, event_type "
        "(purchase/return; without it a negative amount is a return)",
    )
    p.add_argument(
        "--date-format",
        metavar="FMT",
        help="strptime format of the timestamps, e.g. '%%m/%%d/%%Y %%H:%%M' for the UCI "
        "export (default ISO-8601)",
    )
    p.add_argument(
        "--timezone",
        default="UTC",
        help="zone of timestamps without an offset, e.g. Europe/London (default UTC)",
    )
    p.add_argument(
        "--currency",
        help="ISO-4217 currency of the amounts (default GBP for online-retail, else USD)",
    )
    p.add_argument(
        "--encoding",
        default="utf-8-sig",
        help="text encoding of the file, e.g. latin-1 (default utf-8, with or without BOM)",
    )
    p.add_argument(
        "--rebase-to-now",
        action="store_true",
        help="shift all times by whole weeks so the newest event falls in the past week "
        "(default: keep the file's timestamps)",
    )
    p.add_argument(
        "--speedup",
        type=_positive(float),
        metavar="X",
        help="keep the gaps between events, divided by X (86400: a day per second); "
        "default: no gaps",
    )
    p.add_argument(
        "--rate",
        type=_positive(float),
        help="at most this many events per second, averaged from the start (default: no cap)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="read and report only, publish nothing (no broker needed)",
    )


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from producers import replay
    from producers.orders_csv import ReadOptions, ReplayError

    try:
        options = ReadOptions(
            date_format=args.date_format,
            timezone=ZoneInfo(args.timezone),
            currency=args.currency or ("GBP" if args.format == "online-retail" else "USD"),
        )
        with args.file.open(newline="", encoding=args.encoding) as lines:
            if args.format == "online-retail":
                result = replay.read_online_retail(lines, options)
            elif args.map is None:
                raise ReplayError("--format generic needs --map")
            else:
                result = replay.read_generic(lines, replay.parse_mapping(args.map), options)
    except (ReplayError, ZoneInfoNotFoundError, OSError, UnicodeDecodeError) as exc:
        print(f"segstream replay: {exc}", file=sys.stderr)
        return 2
    replay.log_problems(result.report)
    events = result.events
    if args.rebase_to_now:
        events = replay.rebase(events, datetime.now(UTC))
    if not args.dry_run:
        from producers import replay_publish

        replay_publish.run(settings, events, speedup=args.speedup, rate=args.rate)
    log.info("%s: %s", args.file, replay.summary(result.report))
    return 0
