"""The running `customer-state` query: started once, never stopped for a promotion. Each
batch scores with the model promoted when it starts (`streaming.model_log`); once a model is
promoted, everyone the state holds is asked to be re-scored (`retrain` requests on
`segment-control`), which also brings an idle stream to take the new model up.
"""

from __future__ import annotations

import logging

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery

from segstream.config import Settings
from segstream.contracts.stream_records import RETRAIN
from segstream.rescore_requests import publish_requests
from streaming import customer_state
from streaming.model_cache import ModelCache
from streaming.model_log import ModelLog
from streaming.queries import app_id, every

log = logging.getLogger(__name__)


class CustomerState:
    """The running `customer-state` query and the models its batches score with."""

    def __init__(self, spark: SparkSession, settings: Settings) -> None:
        self._spark = spark
        self._settings = settings
        self._models = ModelLog(settings.checkpoint_path(customer_state.QUERY))
        cache = ModelCache(spark, settings)
        # The loop's own: the batches' runs in the query's thread.
        self._promoted = ModelCache(spark, settings)
        self._batch = customer_state.ScoringBatch(
            settings,
            app_id(settings, customer_state.QUERY),
            self._models,
            cache.get,
            cache.version,
        )
        self.query: StreamingQuery | None = None
        self._logged: tuple[str, int] = ("", -1)

    def start(self) -> StreamingQuery:
        self.query = customer_state.start(
            self._spark, self._settings, self._batch, every(self._settings.hot_trigger_interval_s)
        )
        return self.query

    def rescore_if_due(self) -> None:
        """Asks for a re-score of everyone the state holds, once per promoted model. A batch
        that reads a request starts after it was published, so it scores with that model
        (or a newer one)."""
        promoted = self._promoted.get()
        if promoted is None or promoted.version == self._models.rescored_version():
            return
        version = promoted.version
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
        n = publish_requests(held, self._settings, RETRAIN, None, version)
        log.info("customer state: asked to re-score %d customers with model v%d", n, version)
        self._models.rescored(version)

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
                "customer-state batch %d (run %s): %d rows, %.2f s, %d customers in state, "
                "%d state bytes in memory",
                p.batchId,
                p.runId,
                p.numInputRows,
                p.durationMs.get("triggerExecution", 0) / 1000,
                sum(s.numRowsTotal for s in states),
                sum(s.memoryUsedBytes for s in states),
            )
