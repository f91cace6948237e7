"""What the job does with its queries: name their checkpoints' ids, trigger, stop and check
them between batches."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql.streaming.query import StreamingQuery

from segstream.config import Settings
from segstream.runtime import topics


def app_id(checkpoint: Path, query: str) -> str:
    """The idempotency key of a query's writes, kept next to its checkpoint.

    A fresh checkpoint restarts batch ids at 0; a new id then keeps Delta from mistaking
    those batches for replays of the old query's.
    """
    checkpoint.mkdir(parents=True, exist_ok=True)
    marker = checkpoint / "segstream-app-id"
    if not marker.is_file():
        marker.write_text(f"segstream-{query}-{uuid.uuid4()}\n")
    return marker.read_text().strip()


def every(seconds: float) -> str:
    """A processing-time trigger's interval."""
    return f"{seconds} seconds"


def stop_between_batches(queries: Sequence[StreamingQuery], wait_s: float) -> None:
    """Stops the queries, each after its running batch if that ends within `wait_s` in all."""
    deadline = time.monotonic() + wait_s
    for query in queries:
        while (
            query.isActive and query.status.get("isTriggerActive") and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        query.stop()


def caught_up(queries: Sequence[StreamingQuery], settings: Settings) -> bool:
    """Whether every query is between batches and has read its topics to their ends."""
    done: dict[tuple[str, int], int] = {}
    for q in queries:
        progress = q.lastProgress
        if progress is None or q.status.get("isTriggerActive"):
            return False
        for source in progress.sources:
            for topic, parts in json.loads(source.endOffset or "{}").items():
                for part, offset in parts.items():
                    done[(topic, int(part))] = int(offset)
    ends = topics.end_offsets(settings, done)
    return all(ends.get(tp, 0) <= offset for tp, offset in done.items())
