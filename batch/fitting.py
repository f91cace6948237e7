"""What both training engines share: parameters, results, the silhouette, population
statistics, and the model record built from a fit. Pure NumPy (plus scikit-learn's
silhouette), so the two engines cannot drift apart on anything but the clustering itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sklearn.metrics import silhouette_score

from batch import drift
from batch.identity import Identity, Space
from batch.kmeans_select import KChoice, choose_k
from segstream.config import Settings
from segstream.model.features import SKEW_TRANSFORMS
from segstream.model.record import Engine, SegmentModel, Transform

QUANTILE_GRID = 101  # percentiles 0..100 of each raw feature, for naming segments


@dataclass(frozen=True)
class TrainParams:
    """How to train: the k values to try, restarts, iterations, seed, sample sizes."""

    ks: tuple[int, ...]
    forced: bool
    restarts: int
    max_iter: int
    seed: int
    silhouette_sample: int
    drift_bins: int

    @classmethod
    def from_settings(cls, settings: Settings, k: int | None = None) -> TrainParams:
        ks = (
            (k,)
            if k is not None
            else tuple(range(settings.retrain_k_min, settings.retrain_k_max + 1))
        )
        return cls(
            ks=ks,
            forced=k is not None,
            restarts=settings.retrain_restarts,
            max_iter=settings.retrain_max_iter,
            seed=settings.retrain_seed,
            silhouette_sample=settings.retrain_silhouette_sample,
            drift_bins=settings.drift_bins,
        )

    def usable_ks(self, rows: int) -> tuple[int, ...]:
        """The k values a table of `rows` customers can have (k < rows)."""
        ks = tuple(k for k in self.ks if k < rows)
        if not ks:
            raise ValueError(f"{rows} customers are too few for k in {self.ks}")
        return ks


@dataclass(frozen=True)
class KFit:
    """The best of the restarts at one k. Centroids are in the standardised space."""

    k: int
    centroids: np.ndarray
    inertia: float
    silhouette: float
    sizes: tuple[int, ...]


@dataclass(frozen=True)
class FeatureStats:
    """One raw feature in the training population: quantile grid and drift bins."""

    quantiles: tuple[float, ...]
    edges: tuple[float, ...]
    proportions: tuple[float, ...]


@dataclass(frozen=True)
class FitResult:
    """Everything an engine learned; `to_record` turns it into a SegmentModel."""

    engine: Engine
    init: str
    space: Space
    rows: int
    fits: tuple[KFit, ...]
    choice: KChoice
    stats: Mapping[str, FeatureStats]
    seconds: float

    @property
    def chosen(self) -> KFit:
        return next(f for f in self.fits if f.k == self.choice.k)

    def inertia(self, k: int) -> float:
        return next(f.inertia for f in self.fits if f.k == k)


def transforms_for(features: tuple[str, ...]) -> tuple[Transform, ...]:
    return tuple(SKEW_TRANSFORMS[f] for f in features)


def apply_transforms(x: np.ndarray, transforms: tuple[Transform, ...]) -> np.ndarray:
    t = np.asarray(x, dtype="float64").copy()
    for j, transform in enumerate(transforms):
        if transform == "log1p":
            t[:, j] = np.log1p(t[:, j])
    return t


def safe_std(std: np.ndarray) -> np.ndarray:
    # A constant feature carries no information; std 1 keeps it at 0 instead of dividing by 0.
    return np.where(std > 1e-12, std, 1.0)


def nearest(z: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    d2 = ((z[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    return np.asarray(d2.argmin(axis=1))


def silhouette(sample: np.ndarray, centroids: np.ndarray, seed: int) -> float:
    """Mean silhouette of a sample, each point labelled by its nearest centroid (NaN if the
    sample has fewer than two clusters)."""
    labels = nearest(sample, centroids)
    if len(np.unique(labels)) < 2 or len(sample) <= len(np.unique(labels)):
        return float("nan")
    return float(silhouette_score(sample, labels, random_state=seed))


def select(fits: list[KFit], forced: bool) -> KChoice:
    if forced:
        return KChoice(fits[0].k, None, f"k={fits[0].k} forced")
    return choose_k([f.k for f in fits], [f.inertia for f in fits], [f.silhouette for f in fits])


def feature_stats(values: np.ndarray, n_bins: int) -> FeatureStats:
    """Quantile grid and drift bins of one raw feature, computed in NumPy."""
    v = np.asarray(values, dtype="float64")
    grid = np.quantile(v, np.linspace(0.0, 1.0, QUANTILE_GRID))
    edges = drift.quantile_edges(v, n_bins)
    return FeatureStats(
        tuple(float(q) for q in grid),
        tuple(float(e) for e in edges),
        tuple(float(p) for p in drift.bin_proportions(v, edges)),
    )


def max_segment_id(models: list[SegmentModel]) -> int:
    """The largest segment id any model used, retired ones included (0 if none)."""
    used = [i for m in models for i in (*m.segment_ids, *m.retired_segments)]
    return max(used, default=0)


def to_record(
    fit: FitResult, identity: Identity, as_of: datetime, trained_at: datetime, params: TrainParams
) -> SegmentModel:
    """The model record of a fit, its segments ordered by id."""
    chosen = fit.chosen
    order = sorted(range(chosen.k), key=lambda i: identity.segment_ids[i])
    total = max(sum(chosen.sizes), 1)
    metrics: dict[str, Any] = {
        "k_selection": {
            "ks": [f.k for f in fit.fits],
            "inertia": [f.inertia for f in fit.fits],
            "silhouette": [None if np.isnan(f.silhouette) else f.silhouette for f in fit.fits],
            "knee": fit.choice.knee,
            "chosen": fit.choice.k,
            "reason": fit.choice.reason,
            "forced": params.forced,
            "silhouette_sample": params.silhouette_sample,
        },
        "training": {
            "engine": fit.engine,
            "init": fit.init,
            "restarts": params.restarts,
            "max_iter": params.max_iter,
            "seed": params.seed,
            "seconds": round(fit.seconds, 3),
        },
        "inertia": chosen.inertia,
        "silhouette": None if np.isnan(chosen.silhouette) else chosen.silhouette,
        "segment_sizes": {str(identity.segment_ids[i]): int(chosen.sizes[i]) for i in order},
        "segment_shares": {str(identity.segment_ids[i]): chosen.sizes[i] / total for i in order},
        "feature_bins": {
            name: {"edges": list(s.edges), "proportions": list(s.proportions)}
            for name, s in fit.stats.items()
        },
        "population_quantiles": {name: list(s.quantiles) for name, s in fit.stats.items()},
        "identity": identity.details,
    }
    return SegmentModel(
        version=0,
        trained_at=trained_at,
        as_of=as_of,
        rows=fit.rows,
        features=fit.space.features,
        transforms=fit.space.transforms,
        mean=fit.space.mean,
        std=fit.space.std,
        centroids=tuple(tuple(float(v) for v in chosen.centroids[i]) for i in order),
        segment_ids=tuple(identity.segment_ids[i] for i in order),
        segment_names=tuple(identity.segment_names[i] for i in order),
        engine=fit.engine,
        metrics=metrics,
        retired_segments=identity.retired,
    )
