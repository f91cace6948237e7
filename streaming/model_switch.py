"""The `customer-state` query's model: which one it runs, and the switch to a promoted one.

The model is a literal of the query's plan, so it changes only by a restart of the query,
and only between batches: a batch replayed after a crash then scores with the model of its
first attempt. The model it runs is pinned next to the checkpoint
(`segstream-model.json`). To switch, the job stops the query after its running batch (a
batch stopped midway is first finished with the old model), pins the promoted model and
starts it again; then every customer it holds is asked to be re-scored (`retrain`
requests). `requests_published` tells a restart whether that is still
to be done.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery

from segstream.config import Settings
from segstream.contracts.stream_records import RETRAIN
from segstream.model.record import SegmentModel
from segstream.rescore_requests import publish_requests
from streaming import customer_state
from streaming.model_cache import ModelCache
from streaming.queries import app_id, every, stop_between_batches, write_atomically

log = logging.getLogger(__name__)

# How long a switch lets the old model finish a batch it had begun (a first batch after a
# restart, which replays one, took up to 41 s on a loaded 2-core machine).
_REPLAY_WAIT_S = 120.0


@dataclass(frozen=True)
class Pin:
    model_version: int | None
    requests_published: bool


class ModelPin:
    def __init__(self, checkpoint: Path) -> None:
        checkpoint.mkdir(parents=True, exist_ok=True)
        self._path = checkpoint / "segstream-model.json"

    def get(self) -> Pin | None:
        if not self._path.is_file():
            return None
        return Pin(**json.loads(self._path.read_text()))

    def set(self, pin: Pin) -> Pin:
        """Stores `pin` durably."""
        write_atomically(self._path, json.dumps(asdict(pin)))
        return pin


def _newest(checkpoint: Path, folder: str) -> int:
    ids = [int(p.name) for p in (checkpoint / folder).glob("*") if p.name.isdigit()]
    return max(ids, default=-1)


def in_flight(checkpoint: Path) -> int | None:
    """The batch the query at `checkpoint` planned and has not committed (a restart would
    replay it), or None."""
    planned = _newest(checkpoint, "offsets")
    return planned if planned > _newest(checkpoint, "commits") else None


def committed(checkpoint: Path, batch_id: int) -> bool:
    """Whether the query at `checkpoint` has committed `batch_id`."""
    return _newest(checkpoint, "commits") >= batch_id


class CustomerState:
    """The running `customer-state` query and its pinned model."""

    def __init__(self, spark: SparkSession, settings: Settings) -> None:
        self._spark = spark
        self._settings = settings
        self._checkpoint = settings.checkpoint_path(customer_state.QUERY)
        self._app_id = app_id(settings, customer_state.QUERY)
        self._pin = ModelPin(self._checkpoint)
        self._models = ModelCache(spark, settings)
        self.query: StreamingQuery | None = None
        self._logged: tuple[str, int] = ("", -1)

    def _start(self, version: int | None) -> StreamingQuery:
        model: SegmentModel | None = None if version is None else self._models.version(version)
        self.query = customer_state.start(
            self._spark,
            self._settings,
            model,
            self._app_id,
            every(self._settings.hot_trigger_interval_s),
        )
        return self.query

    def start(self) -> None:
        """Starts the query with its pinned model, or the promoted one when it can: a new
        state holds nobody yet, and a stopped one with no batch to replay sits between two
        batches. Else `promotion_pending` tells that a `switch` is due."""
        pin = self._pin.get()
        promoted = self._models.get()
        version = None if promoted is None else promoted.version
        if pin is None:
            # Every customer is scored as its events arrive: nobody to re-score.
            pin = self._pin.set(Pin(version, True))
        elif version != pin.model_version and in_flight(self._checkpoint) is None:
            pin = self._pin.set(Pin(version, False))
        self._start(pin.model_version)
        if not pin.requests_published:
            self._request_rescore(pin)

    def promotion_pending(self) -> bool:
        promoted = self._models.get()
        pin = self._pin.get()
        return promoted is not None and (pin is None or promoted.version != pin.model_version)

    def switch(self, wait_s: float) -> None:
        """Restarts the query with the promoted model, between two of its batches."""
        promoted = self._models.get()
        pin = self._pin.get()
        assert promoted is not None and pin is not None and self.query is not None
        log.info(
            "customer state: switching from model %s to v%d", pin.model_version, promoted.version
        )
        while True:
            stop_between_batches([self.query], wait_s)
            replay = in_flight(self._checkpoint)
            if replay is None:
                break
            # Stopped inside a batch: the old model finishes it first.
            self._start(pin.model_version)
            deadline = time.monotonic() + _REPLAY_WAIT_S
            while not committed(self._checkpoint, replay) and time.monotonic() < deadline:
                error = self.query.exception()
                if error is not None:
                    raise error
                time.sleep(0.1)
        pin = self._pin.set(Pin(promoted.version, False))
        self._start(pin.model_version)
        self._request_rescore(pin)

    def _request_rescore(self, pin: Pin) -> None:
        # Every customer the state holds has a record in the compacted customer-scores
        # topic, also those the lake has not written yet.
        held = (
            self._spark.read.format("kafka")
            .options(**self._settings.spark_kafka_options())
            .option("subscribe", self._settings.topic_customer_scores)
            .option("startingOffsets", "earliest")
            .option("endingOffsets", "latest")
            .load()
            .select(F.col("key").cast("string").alias("customer_id"))
            .where(F.col("customer_id").isNotNull())
            .distinct()
        )
        n = publish_requests(held, self._settings, RETRAIN, None, pin.model_version)
        log.info(
            "customer state: asked to re-score %d customers with model v%s", n, pin.model_version
        )
        self._pin.set(Pin(pin.model_version, True))

    def log_progress(self) -> None:
        """Logs each new batch of the query: rows, duration, the customers in its state."""
        assert self.query is not None
        for p in self.query.recentProgress:
            key = (str(p.runId), int(p.batchId))
            if key[0] == self._logged[0] and key[1] <= self._logged[1]:
                continue
            self._logged = key
            if not p.numInputRows:
                continue
            states = p.stateOperators
            log.info(
                "customer-state batch %d: %d rows, %.2f s, %d customers in state, "
                "%d state bytes in memory",
                p.batchId,
                p.numInputRows,
                p.durationMs.get("triggerExecution", 0) / 1000,
                sum(s.numRowsTotal for s in states),
                sum(s.memoryUsedBytes for s in states),
            )
