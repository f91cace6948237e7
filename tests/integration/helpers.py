"""Helpers shared by the integration tests: run segstream as users do, read Delta back."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pandas as pd

from segstream.config import Settings
from segstream.contracts import tables
from segstream.contracts.events import Event


def run_cli(
    settings: Settings, *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Runs `segstream ARGS` in a subprocess with these settings; fails the test on error."""
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=settings.to_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"segstream {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def expected_rfm(events: list[Event]) -> pd.DataFrame:
    """customer_rfm recomputed with pandas from the events as produced (independent code)."""
    rows = [
        {
            "customer_id": e.customer_id,
            "type": e.event_type,
            "order_id": e.order_id,
            "time": pd.Timestamp(e.event_time).tz_convert("UTC").tz_localize(None),
            "amount": e.amount,
            "qty": sum(i.quantity for i in e.items),
        }
        for e in events
    ]
    df = pd.DataFrame(rows)
    out = []
    for customer, g in df.groupby("customer_id"):
        buys = g[g["type"] == "purchase"]
        rets = g[g["type"] == "return"]
        gross = sum(buys["amount"], Decimal("0.00"))
        returned = sum(rets["amount"], Decimal("0.00"))
        out.append(
            {
                "customer_id": customer,
                "first_purchase_at": buys["time"].min() if len(buys) else pd.NaT,
                "last_purchase_at": buys["time"].max() if len(buys) else pd.NaT,
                "orders": buys["order_id"].nunique(),
                "gross_revenue": gross,
                "returns_amount": returned,
                "monetary": gross - returned,
                "items": int(buys["qty"].sum()),
                "last_event_at": g["time"].max(),
            }
        )
    frame = pd.DataFrame(out).set_index("customer_id").sort_index()
    frame = frame.astype({"orders": "int64", "items": "int64"})
    for col in ("first_purchase_at", "last_purchase_at", "last_event_at"):
        frame[col] = frame[col].astype("datetime64[us]")
    return frame


def read_rfm(spark, settings: Settings) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    df = spark.read.format("delta").load(str(settings.table_path(tables.CUSTOMER_RFM)))
    pdf = df.drop("updated_at").toPandas().set_index("customer_id").sort_index()
    for col in ("first_purchase_at", "last_purchase_at", "last_event_at"):
        pdf[col] = pd.to_datetime(pdf[col]).astype("datetime64[us]")
    return pdf
