"""`segstream retrain`: train a new K-Means model on `customer_rfm`, give its segments stable
identities, register it, promote it, and take the reference snapshot drift compares with.

The engine is scikit-learn (features collected to the driver) below
`retrain_spark_min_rows` customers and Spark ML from there on, unless one is forced.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from pyspark.sql import SparkSession

from batch import identity, snapshot, train_sklearn, train_spark
from batch.fitting import FitResult, TrainParams, max_segment_id, to_record
from segstream.config import EngineChoice, Settings
from segstream.lake import reads
from segstream.model import registry, segments
from segstream.model.record import Engine, SegmentModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainOptions:
    """What `segstream retrain` was asked for; None means "from the settings"."""

    k: int | None = None
    engine: EngineChoice | None = None
    promote: bool = True
    as_of: datetime | None = None


@dataclass(frozen=True)
class Trained:
    """A trained, not yet registered model, with the fit it came from."""

    model: SegmentModel
    fit: FitResult
    previous: SegmentModel | None


def pick_engine(choice: EngineChoice, rows: int, spark_min_rows: int) -> Engine:
    """The engine for `rows` customers: the forced one, or by size under `auto`."""
    if choice != "auto":
        return choice
    return "spark" if rows >= spark_min_rows else "sklearn"


@contextmanager
def _arrow(spark: SparkSession) -> Iterator[None]:
    # Arrow makes toPandas of a million rows take a second instead of a minute.
    key = "spark.sql.execution.arrow.pyspark.enabled"
    before = spark.conf.get(key, None)
    spark.conf.set(key, "true")
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, before)


def train(spark: SparkSession, settings: Settings, options: RetrainOptions) -> Trained:
    """Trains on the lake's `customer_rfm` without writing anything."""
    rfm = reads.customer_rfm(spark, settings)
    as_of = options.as_of or reads.data_as_of(rfm)
    features = tuple(settings.model_features)
    feats = segments.features(rfm, as_of).select(*features).persist()
    try:
        rows = feats.count()
        params = TrainParams.from_settings(settings, options.k)
        engine = pick_engine(
            options.engine or settings.retrain_engine, rows, settings.retrain_spark_min_rows
        )
        log.info(
            "training on %d customers as of %s with %s, k in %s",
            rows,
            as_of.isoformat(),
            engine,
            list(params.ks),
        )
        if engine == "sklearn":
            with _arrow(spark):
                x = np.asarray(feats.toPandas(), dtype=np.float64)
            fit = train_sklearn.fit(x, features, params)
        else:
            fit = train_spark.fit(feats, features, params)
    finally:
        feats.unpersist()
    previous = registry.current(spark, settings)
    ident = identity.assign(
        fit.space,
        fit.chosen.centroids,
        {name: s.quantiles for name, s in fit.stats.items()},
        previous,
        max_segment_id(registry.list_models(spark, settings)),
        settings.identity_max_distance,
    )
    model = to_record(fit, ident, as_of, datetime.now(UTC), params)
    return Trained(model, fit, previous)


def run(spark: SparkSession, settings: Settings, options: RetrainOptions) -> SegmentModel:
    """Trains, registers, promotes (unless told not to) and snapshots a new model.

    Returns:
        The stored model with its version and status.

    Raises:
        segstream.lake.reads.MissingDataError: there is no `customer_rfm` data to train on.
    """
    trained = train(spark, settings, options)
    stored = registry.register(spark, settings, trained.model)
    if options.promote:
        registry.promote(spark, settings, stored.version)
        stored = dataclasses.replace(stored, status="promoted")
    snapshot.take(spark, settings, stored, "reference", as_of=stored.as_of)
    ident = stored.metrics["identity"]
    log.info(
        "model v%d %s: k=%d (%s), segments %s, new %s, retired %s",
        stored.version,
        stored.status,
        stored.k,
        stored.metrics["k_selection"]["reason"],
        ", ".join(
            f"{i}={n}" for i, n in zip(stored.segment_ids, stored.segment_names, strict=True)
        ),
        ident["new_segments"],
        ident["retired_segments"],
    )
    return stored
