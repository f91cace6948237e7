"""What each checking micro-batch measured, fixed before it publishes.

A micro-batch replayed after a crash must produce exactly the outputs of its first attempt,
but the newest event time seen may have moved meanwhile (in memory, past the batch). So the
first attempt records the as-of before it and the as-of it measured, next to the query's
checkpoint, before it publishes anything; a replay reads them back, and a restart takes the
newest recorded as-of as its own.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# Spark keeps the last 100 batches' metadata by default; a replay is only ever of the last.
_KEEP = 100


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True)
class BatchPlan:
    """`prior_as_of`: the as-of before the batch (its events beyond it plus the allowed lead
    are quarantined); `as_of`: the newest event time seen once the batch is counted."""

    prior_as_of: datetime | None
    as_of: datetime | None

    def to_json(self) -> str:
        return json.dumps(
            {
                "prior_as_of": _iso(self.prior_as_of),
                "as_of": _iso(self.as_of),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> BatchPlan:
        body = json.loads(text)
        return cls(_time(body["prior_as_of"]), _time(body["as_of"]))


class BatchPlans:
    """The recorded plans of one query, one small JSON file per batch id."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _path(self, batch_id: int) -> Path:
        return self._folder / f"{batch_id}.json"

    def get(self, batch_id: int) -> BatchPlan | None:
        path = self._path(batch_id)
        return BatchPlan.from_json(path.read_text()) if path.is_file() else None

    def latest(self) -> BatchPlan | None:
        """The plan of the highest batch id recorded, None when there is none."""
        ids = [int(p.stem) for p in self._folder.glob("*.json") if p.stem.isdigit()]
        return self.get(max(ids)) if ids else None

    def record(self, batch_id: int, plan: BatchPlan) -> BatchPlan:
        """Stores `plan` for `batch_id` durably (written whole, then renamed into place)."""
        tmp = self._folder / f".{batch_id}.json.tmp"
        with tmp.open("w") as f:
            f.write(plan.to_json())
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self._path(batch_id))
        old = self._path(batch_id - _KEEP)
        old.unlink(missing_ok=True)
        return plan
