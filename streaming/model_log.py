"""Which model each batch of `customer-state` scores with, decided when the batch starts.

The query never stops for a promotion: every batch asks for the promoted model when it
starts, and the answer is written down with the batch id before the batch publishes
anything (`segstream-models.json` next to the checkpoint). A batch that runs again after a
crash reads its model back, so it republishes exactly what its first attempt did; a
promotion takes effect at the next batch that starts.

The log is a step function: `steps` holds (first batch, model version) at each change, and
`last_batch` the newest batch decided, so the file grows with promotions, not with batches.
`rescored` is the newest version for which everyone the state holds was asked to be
re-scored (`segment-control`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from streaming.queries import write_atomically

log = logging.getLogger(__name__)

LOG_FILE = "segstream-models.json"


@dataclass
class _Decisions:
    steps: list[tuple[int, int | None]] = field(default_factory=list)
    last_batch: int = -1
    rescored: int | None = None

    def at(self, batch_id: int) -> int | None:
        version: int | None = None
        for first, step_version in self.steps:
            if first > batch_id:
                break
            version = step_version
        return version


class ModelLog:
    """The model decisions of the `customer-state` query whose checkpoint is `checkpoint`.

    One process writes it (the hot part's driver); its batches and its loop share it.
    """

    def __init__(self, checkpoint: Path) -> None:
        checkpoint.mkdir(parents=True, exist_ok=True)
        self._path = checkpoint / LOG_FILE
        self._lock = threading.Lock()
        self._decisions = self._load()

    def _load(self) -> _Decisions:
        if not self._path.is_file():
            return _Decisions()
        raw = json.loads(self._path.read_text())
        return _Decisions(
            [(int(b), v) for b, v in raw["steps"]], int(raw["last_batch"]), raw["rescored"]
        )

    def _save(self, decisions: _Decisions) -> None:
        write_atomically(
            self._path,
            json.dumps(
                {
                    "steps": decisions.steps,
                    "last_batch": decisions.last_batch,
                    "rescored": decisions.rescored,
                }
            ),
        )

    def for_batch(self, batch_id: int, promoted: Callable[[], int | None]) -> int | None:
        """The model version batch `batch_id` scores with (None: no model yet): the one
        recorded for it, or for a new batch the `promoted()` one, recorded durably first."""
        with self._lock:
            d = self._decisions
            if batch_id <= d.last_batch:
                return d.at(batch_id)
            version = promoted()
            steps = list(d.steps)
            if not steps or steps[-1][1] != version:
                steps.append((batch_id, version))
                if steps[:-1]:
                    log.info("customer state: model v%s from batch %d on", version, batch_id)
            # A state that held nobody before its first model needs no re-score.
            rescored = version if batch_id == 0 else d.rescored
            self._decisions = _Decisions(steps, batch_id, rescored)
            self._save(self._decisions)
            return version

    def rescored_version(self) -> int | None:
        """The newest version for which everyone was asked to be re-scored."""
        with self._lock:
            return self._decisions.rescored

    def rescored(self, version: int) -> None:
        """Records that everyone was asked to be re-scored with `version`."""
        with self._lock:
            d = self._decisions
            self._decisions = _Decisions(d.steps, d.last_batch, version)
            self._save(self._decisions)
