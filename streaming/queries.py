"""What the job does with its queries: name their checkpoints' ids, trigger, stop and check
them between batches."""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql.streaming.query import StreamingQuery

from segstream.config import Settings
from segstream.errors import SegstreamError
from segstream.runtime import topics

APP_ID_FILE = "segstream-app-id"
# What Spark leaves of a batch file it was writing when killed: `.<batch>.<uuid>.tmp`, and its
# checksum `..<batch>.<uuid>.tmp.crc`, before the rename that would have made it `<batch>`.
_INTERRUPTED_WRITE = re.compile(r"\.\.?\d+\.[0-9a-f-]{36}\.tmp(\.crc)?")

log = logging.getLogger(__name__)


class CheckpointLost(SegstreamError):
    """A query's checkpoint is not the one the lake's writes belong to."""


def write_atomically(path: Path, text: str) -> None:
    """Writes `path` whole (a temporary file, synced, then renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def app_id(settings: Settings, query: str) -> str:
    """The idempotency key of a query's writes, kept in its checkpoint and in the lake.

    A fresh checkpoint restarts batch ids at 0 and reads its topics from the earliest offset:
    over a lake that holds an earlier checkpoint's writes, every message would be written
    again (events twice, orders and money doubled, changes that never happened). The lake's
    copy tells a lost checkpoint from a first start, which is refused.

    Raises:
        CheckpointLost: the lake holds the writes of another checkpoint of `query`.
    """
    checkpoint = settings.checkpoint_path(query)
    mine = checkpoint / APP_ID_FILE
    kept = settings.stream_id_path(query)
    own = mine.read_text().strip() if mine.is_file() else None
    if kept.is_file():
        written = kept.read_text().strip()
        if own != written:
            state = "missing" if own is None else f"another one ({own})"
            raise CheckpointLost(
                f"the checkpoint of the stream's `{query}` query at {checkpoint} is {state}, "
                f"but the lake at {settings.lake.resolve()} holds what the query wrote with "
                f"checkpoint {written} (recorded in {kept}). Starting from this checkpoint "
                "would write every message again. Restore that checkpoint, or rebuild the "
                'stream from Kafka (README.md, "Rebuilding the stream").'
            )
        return written
    if own is None:
        own = f"segstream-{query}-{uuid.uuid4()}"
        # The checkpoint's copy first: a crash before the lake's leaves a checkpoint the next
        # start adopts, never a lake copy without its checkpoint.
        write_atomically(mine, own + "\n")
    # Also adopts the checkpoint of a lake that kept no copy yet.
    write_atomically(kept, own + "\n")
    return own


def drop_interrupted_first_batch(checkpoint: Path) -> list[Path]:
    """Removes what a kill left of the first batch's offsets and returns it.

    A query whose checkpoint has no offsets yet starts as a new one, and Spark then refuses
    a checkpoint whose `offsets` folder is not empty (STATE_STORE_CHECKPOINT_LOCATION_NOT_EMPTY),
    counting the temporary file of a write that a kill interrupted: the checkpoint would stay
    unusable for good. Nothing of that batch was written anywhere (its offsets come first), so
    the leftovers can go. Anything else in the folder is left for Spark to refuse.
    """
    offsets = checkpoint / "offsets"
    if not offsets.is_dir():
        return []
    names = [p.name for p in offsets.iterdir()]
    if any(name.isdigit() for name in names):
        return []
    leftovers = [offsets / name for name in names if _INTERRUPTED_WRITE.fullmatch(name)]
    for path in leftovers:
        path.unlink()
    if leftovers:
        log.warning(
            "%s: removed %s, left by a first batch that was interrupted before its offsets "
            "were written; that batch runs again",
            checkpoint,
            ", ".join(p.name for p in leftovers),
        )
    return leftovers


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
