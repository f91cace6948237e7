"""The `customer-state` query's model: which one it runs, and the switch to a promoted one.

The model is a literal of the query's plan, so it changes only by a restart of the query,
and only between batches: a batch replayed after a crash then scores with the model of its
first attempt. The model runs is pinned next to the checkpoint
(`segstream-model.json`). To switch, the job pauses the query that feeds the customer state,
lets the state read everything it was given (it then sits between batches), stops it, pins
the promoted model and starts it again; then every customer it holds is asked to be
re-scored (`retrain` requests). `requests_published` tells a restart whether that is still
to be done.
"""

from __future__ import annotations

import json
import logging
import os
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
from streaming.queries import app_id, caught_up, every, stop_between_batches

log = logging.getLogger(__name__)


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
        """Stores `pin` durably (written whole, then renamed into place)."""
        tmp = self._path.with_suffix(".tmp")
        with tmp.open("w") as f:
            f.write(json.dumps(asdict(pin)))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self._path)
        return pin


def in_flight(checkpoint: Path) -> bool:
    """Whether the query at `checkpoint` planned a batch it has not committed (a restart
    would replay it)."""

    def newest(folder: str) -> int:
        ids = [int(p.name) for p in (checkpoint / folder).glob("*") if p.name.isdigit()]
        return max(ids, default=-1)

    return newest("offsets") > newest("commits")


class CustomerState:
    """The running `customer-state` query and its pinned model."""

    def __init__(self, spark: SparkSession, settings: Settings) -> None:
        self._spark = spark
        self._settings = settings
        self._checkpoint = settings.checkpoint_path(customer_state.QUERY)
        self._app_id = app_id(self._checkpoint, customer_state.QUERY)
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
        """Starts the query with its pinned model; a new state takes the promoted one."""
        pin = self._pin.get()
        if pin is None:
            # A new state holds nobody yet: every customer is scored as its events arrive.
            promoted = self._models.get()
            pin = self._pin.set(Pin(None if promoted is None else promoted.version, True))
        self._start(pin.model_version)
        if not pin.requests_published:
            self._request_rescore(pin)

    def promotion_pending(self) -> bool:
        promoted = self._models.get()
        pin = self._pin.get()
        return promoted is not None and (pin is None or promoted.version != pin.model_version)

    def switch(self, wait_s: float) -> None:
        """Restarts the query with the promoted model. Call it with the queries that feed
        the state paused: it waits until the state has read what it was given."""
        promoted = self._models.get()
        pin = self._pin.get()
        assert promoted is not None and pin is not None and self.query is not None
        log.info(
            "customer state: switching from model %s to v%d", pin.model_version, promoted.version
        )
        while True:
            deadline = time.monotonic() + wait_s
            while not caught_up([self.query], self._settings) and time.monotonic() < deadline:
                time.sleep(0.2)
            stop_between_batches([self.query], wait_s)
            if not in_flight(self._checkpoint):
                break
            # Stopped inside a batch: the old model finishes it first.
            self._start(pin.model_version)
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
