"""K-Means with Spark ML on the standardised features (data larger than the driver).

Produces the same FitResult as the scikit-learn engine: the scaler comes from one Spark
aggregation (population std, as scikit-learn's StandardScaler), each k keeps the best of
`restarts` k-means|| runs by training cost (= inertia), and the silhouette is computed on a
sample exactly as the other engine does.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from pyspark.ml.clustering import KMeans
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from batch import spark_stats
from batch.fitting import FitResult, KFit, TrainParams, safe_std, select, silhouette, transforms_for
from batch.identity import Space
from segstream.model.record import Transform

log = logging.getLogger(__name__)


def _transform(col: Column, transform: Transform) -> Column:
    # The same transform segstream.model.scoring applies when it scores.
    return F.log1p(col) if transform == "log1p" else col


def fit(df: DataFrame, features: tuple[str, ...], params: TrainParams) -> FitResult:
    """Trains every k of `params` on a DataFrame of raw feature columns and picks one.

    Args:
        df: one row per customer with a double column per feature.
        features: the feature names (columns of `df`).
        params: k values, restarts, iterations, seed, sample sizes.
    """
    started = time.monotonic()
    transforms = transforms_for(features)
    t_cols = [f"t{j}" for j in range(len(features))]
    tdf = df.select(
        *[
            _transform(F.col(f), t).alias(c)
            for f, t, c in zip(features, transforms, t_cols, strict=True)
        ]
    )
    row = tdf.agg(
        F.count(F.lit(1)).alias("n"),
        *[F.avg(c).alias(f"m_{c}") for c in t_cols],
        *[F.stddev_pop(c).alias(f"s_{c}") for c in t_cols],
    ).collect()[0]
    n = int(row["n"])
    mean = np.array([float(row[f"m_{c}"]) for c in t_cols])
    std = safe_std(np.array([float(row[f"s_{c}"]) for c in t_cols]))
    z_cols = [f"z{j}" for j in range(len(features))]
    zdf = tdf.select(
        *[
            ((F.col(c) - float(m)) / float(s)).alias(z)
            for c, m, s, z in zip(t_cols, mean, std, z_cols, strict=True)
        ]
    )
    vectors = VectorAssembler(inputCols=z_cols, outputCol="z").transform(zdf).select("z").persist()
    try:
        fraction = min(1.0, 1.2 * params.silhouette_sample / max(n, 1))
        picked = zdf.sample(False, fraction, params.seed).limit(params.silhouette_sample).collect()
        sample = np.array([[float(v) for v in r] for r in picked], dtype="float64")
        fits: list[KFit] = []
        for k in params.usable_ks(n):
            best = None
            for restart in range(params.restarts):
                model = KMeans(
                    k=k,
                    seed=params.seed + restart,
                    initMode="k-means||",
                    maxIter=params.max_iter,
                    featuresCol="z",
                    predictionCol="cluster",
                ).fit(vectors)
                if best is None or model.summary.trainingCost < best.summary.trainingCost:
                    best = model
            assert best is not None
            centroids = np.array([list(c) for c in best.clusterCenters()], dtype="float64")
            if len(centroids) < k:
                log.warning("spark k=%d found only %d distinct centres; skipped", k, len(centroids))
                continue
            sizes = tuple(int(s) for s in best.summary.clusterSizes)
            cost = float(best.summary.trainingCost)
            fits.append(KFit(k, centroids, cost, silhouette(sample, centroids, params.seed), sizes))
            log.info("spark k=%d inertia=%.1f silhouette=%.3f", k, cost, fits[-1].silhouette)
    finally:
        vectors.unpersist()
    if not fits:
        raise ValueError("Spark ML found no usable clustering for any k")
    stats = spark_stats.feature_stats(df, features, params.drift_bins)
    return FitResult(
        engine="spark",
        init="k-means||",
        space=Space(features, transforms, tuple(map(float, mean)), tuple(map(float, std))),
        rows=n,
        fits=tuple(fits),
        choice=select(fits, params.forced),
        stats=stats,
        seconds=time.monotonic() - started,
    )
