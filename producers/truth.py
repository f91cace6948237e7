"""Ground truth of a simulation, as Parquet: who is which persona, when the scenario
shifted, and which bad messages were sent with the reason the stream must give each."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from producers.messages import Message
from producers.simulator import Simulator

_TS = pa.timestamp("us", tz="UTC")

CUSTOMERS_SCHEMA = pa.schema(
    [
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("persona", pa.string(), nullable=False),
        pa.field("signup_date", pa.date32()),
        pa.field("joined_at", _TS, nullable=False),
        pa.field("first_seen_at", _TS),
        pa.field("churned_at", _TS),
    ]
)
SCENARIO_SCHEMA = pa.schema(
    [
        pa.field("scenario", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("simulated_time", _TS, nullable=False),
        pa.field("description", pa.string(), nullable=False),
    ]
)
# `value_sha256` matches `sha2(raw_value, 256)` of the message's row in `quarantine`.
BAD_MESSAGES_SCHEMA = pa.schema(
    [
        pa.field("kind", pa.string(), nullable=False),
        pa.field("expected_reason", pa.string(), nullable=False),
        pa.field("key", pa.binary(), nullable=False),
        pa.field("value_sha256", pa.string(), nullable=False),
        pa.field("value_bytes", pa.int64(), nullable=False),
        pa.field("event_id", pa.string()),
        pa.field("simulated_time", _TS, nullable=False),
    ]
)


class TruthLog:
    """Collects the labels of the bad messages as they are sent."""

    def __init__(self) -> None:
        self.bad: list[dict[str, object]] = []

    def record(self, message: Message) -> None:
        if message.reason is None:
            return
        self.bad.append(
            {
                "kind": message.kind,
                "expected_reason": message.reason,
                "key": message.key,
                "value_sha256": hashlib.sha256(message.value).hexdigest(),
                "value_bytes": len(message.value),
                "event_id": message.event.event_id if message.event else None,
                "simulated_time": message.time,
            }
        )

    def write(self, path: Path, simulator: Simulator) -> list[Path]:
        """Writes `customers.parquet`, `scenario.parquet` and `bad_messages.parquet` under
        the folder `path`; returns the files written."""
        scenario = simulator.options.scenario
        timeline = [
            {
                "scenario": scenario,
                "name": shift.name,
                "simulated_time": when,
                "description": shift.regime.description,
            }
            for when, shift in simulator.timeline
        ]
        tables = {
            "customers": pa.Table.from_pylist(_customers(simulator), CUSTOMERS_SCHEMA),
            "scenario": pa.Table.from_pylist(timeline, SCENARIO_SCHEMA),
            "bad_messages": pa.Table.from_pylist(self.bad, BAD_MESSAGES_SCHEMA),
        }
        path.mkdir(parents=True, exist_ok=True)
        written = []
        for name, table in tables.items():
            target = path / f"{name}.parquet"
            # A reader never sees a half-written file: write aside, then rename over.
            partial = target.with_suffix(".parquet.partial")
            pq.write_table(table, partial)
            os.replace(partial, target)
            written.append(target)
        return written


def _customers(simulator: Simulator) -> list[dict[str, object]]:
    """Each customer so far with their hidden persona and life-cycle times."""

    def ts(t: float | None) -> datetime | None:
        return None if t is None else datetime.fromtimestamp(t, UTC)

    return [
        {
            "customer_id": c.id,
            "persona": c.persona.name,
            "signup_date": c.profile.signup_date,
            "joined_at": ts(c.joined),
            "first_seen_at": ts(c.seen_at),
            "churned_at": ts(c.churned_at),
        }
        for c in simulator.customers
    ]
