"""K-Means with scikit-learn on features collected to the driver (small and medium data)."""

from __future__ import annotations

import logging
import time

import numpy as np
from sklearn.cluster import KMeans

from batch.fitting import (
    FitResult,
    KFit,
    TrainParams,
    apply_transforms,
    feature_stats,
    safe_std,
    select,
    silhouette,
    transforms_for,
)
from batch.identity import Space

log = logging.getLogger(__name__)


def fit(x: np.ndarray, features: tuple[str, ...], params: TrainParams) -> FitResult:
    """Trains every k of `params` on raw feature rows and picks one.

    Args:
        x: raw feature values, one row per customer, columns in `features` order.
        features: the feature names.
        params: k values, restarts (n_init, k-means++ each), iterations, seed.
    """
    started = time.monotonic()
    transforms = transforms_for(features)
    t = apply_transforms(x, transforms)
    mean = t.mean(axis=0)
    std = safe_std(t.std(axis=0))  # population std (ddof=0), as Spark's stddev_pop
    z = (t - mean) / std
    rng = np.random.default_rng(params.seed)
    n = len(z)
    sample = z[rng.choice(n, size=min(n, params.silhouette_sample), replace=False)]
    fits: list[KFit] = []
    for k in params.usable_ks(n):
        km = KMeans(
            n_clusters=k,
            init="k-means++",
            n_init=params.restarts,
            max_iter=params.max_iter,
            random_state=params.seed,
        ).fit(z)
        centroids = np.asarray(km.cluster_centers_, dtype="float64")
        sizes = tuple(int(c) for c in np.bincount(km.labels_, minlength=k))
        fits.append(
            KFit(
                k, centroids, float(km.inertia_), silhouette(sample, centroids, params.seed), sizes
            )
        )
        log.info(
            "sklearn k=%d inertia=%.1f silhouette=%.3f", k, fits[-1].inertia, fits[-1].silhouette
        )
    stats = {name: feature_stats(x[:, j], params.drift_bins) for j, name in enumerate(features)}
    return FitResult(
        engine="sklearn",
        init="k-means++",
        space=Space(features, transforms, tuple(map(float, mean)), tuple(map(float, std))),
        rows=n,
        fits=tuple(fits),
        choice=select(fits, params.forced),
        stats=stats,
        seconds=time.monotonic() - started,
    )
