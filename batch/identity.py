"""Stable segment identity across retrains, and segment names from centroid profiles. Pure.

Shared space. Two models standardise differently (their own transforms, means and stds), so
their centroids cannot be compared as stored. Both sets are mapped back to raw feature units
(inverse standardisation, then the inverse skew transform) and then forward into the NEW
model's space (its transforms and scaler). Distances there are in the new model's standard
deviations, the same units the new model clusters in, so one threshold means the same thing
for every retrain. Only features both models have take part.

Matching. Optimal assignment (Hungarian, scipy's linear_sum_assignment) of new clusters to
the previous promoted model's segments on that distance; a pair counts only if its distance
is below the threshold. A matched cluster inherits the segment id and name. An unmatched
cluster gets a fresh id (largest id any model ever used + 1); a previous segment that nothing
matched is recorded as retired.

Names. Each centroid's raw recency, frequency and monetary value is placed in the training
population as a percentile (`percentile`: mid-rank for ties, interpolated in between),
recency flipped so that 1 = most recent: a profile (r, f, m) in [0, 1]^3. Every name has a prototype profile
(PROTOTYPES); clusters get names by optimal assignment of profiles to prototypes (squared
distance), so names are unique and a cluster's name depends on where it sits in the
population, never on its index. Matched clusters keep their previous names, which are
taken out of the pool first. Beyond eight clusters the extra ones get their nearest
prototype's name with a number ("Hibernating 2").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from segstream.model.features import FREQUENCY, MONETARY, RECENCY
from segstream.model.record import SegmentModel, Transform

# (name, prototype (r, f, m) percentiles). Low ends sit near 0.1-0.25, not 0: most customers
# share the lowest frequency (one order), and a tie's percentile is the middle of its run.
# Order = id order of a first model's segments, so that "Champions" is segment 1.
PROTOTYPES: tuple[tuple[str, tuple[float, float, float]], ...] = (
    ("Champions", (0.85, 0.85, 0.85)),
    ("Loyal", (0.65, 0.75, 0.65)),
    ("Big Spenders", (0.55, 0.5, 0.9)),
    ("Promising/New", (0.8, 0.25, 0.35)),
    ("Need Attention", (0.5, 0.5, 0.5)),
    ("At Risk", (0.25, 0.7, 0.7)),
    ("Hibernating", (0.35, 0.3, 0.3)),
    ("Lost", (0.1, 0.2, 0.15)),
)
PROTOTYPE_NAMES = tuple(name for name, _ in PROTOTYPES)
SHARED_SPACE = (
    "raw units via each model's inverse transforms, then the new model's transforms and scaler"
)


@dataclass(frozen=True)
class Space:
    """How a model maps raw feature values to its standardised space."""

    features: tuple[str, ...]
    transforms: tuple[Transform, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def of(cls, model: SegmentModel) -> Space:
        return cls(model.features, model.transforms, model.mean, model.std)

    def to_raw(self, z: np.ndarray) -> np.ndarray:
        """Standardised points (rows x features) -> raw feature units."""
        t = np.asarray(z, dtype="float64") * np.asarray(self.std) + np.asarray(self.mean)
        out = t.copy()
        for j, transform in enumerate(self.transforms):
            if transform == "log1p":
                out[:, j] = np.expm1(t[:, j])
        result: np.ndarray = out
        return result

    def from_raw(self, raw: np.ndarray) -> np.ndarray:
        """Raw feature values (rows x features) -> this space."""
        t = np.asarray(raw, dtype="float64").copy()
        for j, transform in enumerate(self.transforms):
            if transform == "log1p":
                t[:, j] = np.log1p(np.maximum(t[:, j], 0.0))
        result: np.ndarray = (t - np.asarray(self.mean)) / np.asarray(self.std)
        return result


def in_shared_space(
    new: Space, new_z: np.ndarray, old: Space, old_z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Both centroid sets in the new model's space, restricted to the features both have."""
    common = [f for f in new.features if f in old.features]
    new_raw = new.to_raw(new_z)
    old_raw_all = old.to_raw(old_z)
    old_raw = np.zeros((len(old_z), len(new.features)))
    for j, f in enumerate(new.features):
        if f in old.features:
            old_raw[:, j] = old_raw_all[:, old.features.index(f)]
    keep = [new.features.index(f) for f in common]
    return new.from_raw(new_raw)[:, keep], new.from_raw(old_raw)[:, keep]


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance of every row of `a` to every row of `b`."""
    result: np.ndarray = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))
    return result


def percentile(grid: Sequence[float], value: float) -> float:
    """Percentile of `value` in a population given by its quantile grid.

    Each distinct grid value sits at the middle of its run of ties (its mid-rank), and a
    value between two distinct grid values is interpolated linearly. So a centroid of 1.3
    orders, where half the population has exactly 1 order, lands just above that half's
    middle instead of above the whole tie.
    """
    g = np.asarray(grid, dtype="float64")
    distinct = np.unique(g)
    mid = (
        np.searchsorted(g, distinct, side="left") + np.searchsorted(g, distinct, side="right")
    ) / (2.0 * len(g))
    return float(np.interp(value, distinct, mid))


def profiles(
    raw: np.ndarray, features: Sequence[str], quantiles: Mapping[str, Sequence[float]]
) -> np.ndarray:
    """(r, f, m) percentile profile of each raw centroid; r = 1 means most recent."""
    cols = {name: list(features).index(name) for name in (RECENCY, FREQUENCY, MONETARY)}
    out = np.empty((len(raw), 3))
    for i, row in enumerate(raw):
        out[i, 0] = 1.0 - percentile(quantiles[RECENCY], row[cols[RECENCY]])
        out[i, 1] = percentile(quantiles[FREQUENCY], row[cols[FREQUENCY]])
        out[i, 2] = percentile(quantiles[MONETARY], row[cols[MONETARY]])
    return out


def name_clusters(profile: np.ndarray, taken: set[str]) -> list[str]:
    """Unique names for clusters with these (r, f, m) profiles, avoiding names in `taken`."""
    pool = [(name, proto) for name, proto in PROTOTYPES if name not in taken]
    names: list[str | None] = [None] * len(profile)
    if pool and len(profile):
        protos = np.array([p for _, p in pool])
        cost = ((profile[:, None, :] - protos[None, :, :]) ** 2).sum(axis=2)
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols, strict=True):
            names[int(r)] = pool[int(c)][0]
    used = set(taken) | {n for n in names if n}
    all_protos = np.array([p for _, p in PROTOTYPES])
    for i, name in enumerate(names):
        if name is None:
            nearest = PROTOTYPES[int(((all_protos - profile[i]) ** 2).sum(axis=1).argmin())][0]
            n = 2
            while f"{nearest} {n}" in used:
                n += 1
            names[i] = f"{nearest} {n}"
            used.add(f"{nearest} {n}")
    return [n for n in names if n is not None]


@dataclass(frozen=True)
class Identity:
    """Segment id and name of each new cluster (in cluster order), and how they were found."""

    segment_ids: tuple[int, ...]
    segment_names: tuple[str, ...]
    retired: tuple[int, ...]
    details: dict[str, Any] = field(default_factory=dict)


def _name_order(name: str) -> tuple[int, str]:
    base = name.rsplit(" ", 1)[0] if name not in PROTOTYPE_NAMES else name
    rank = PROTOTYPE_NAMES.index(base) if base in PROTOTYPE_NAMES else len(PROTOTYPES)
    return rank, name


def assign(
    new: Space,
    centroids: np.ndarray,
    quantiles: Mapping[str, Sequence[float]],
    previous: SegmentModel | None,
    max_id_ever: int,
    max_distance: float,
) -> Identity:
    """Segment ids and names for the clusters of a new model.

    Args:
        new: the new model's features, transforms and scaler.
        centroids: the new centroids in the new model's standardised space (k x features).
        quantiles: the training population's quantile grid of each raw feature.
        previous: the promoted model before this one, or None for the first model.
        max_id_ever: the largest segment id any registered model used (0 if none).
        max_distance: a match needs a centroid distance below this (new model's std units).
    """
    k = len(centroids)
    ids: list[int | None] = [None] * k
    names: list[str | None] = [None] * k
    matches: list[dict[str, Any]] = []
    retired: tuple[int, ...] = ()
    if previous is not None:
        new_z, old_z = in_shared_space(
            new, centroids, Space.of(previous), np.asarray(previous.centroids)
        )
        if new_z.shape[1]:
            d = distances(new_z, old_z)
            for r, c in zip(*linear_sum_assignment(d), strict=True):
                if d[r, c] < max_distance:
                    ids[int(r)] = previous.segment_ids[int(c)]
                    names[int(r)] = previous.segment_names[int(c)]
                    matches.append(
                        {"cluster": int(r), "segment_id": ids[int(r)], "distance": float(d[r, c])}
                    )
        matched = {i for i in ids if i is not None}
        retired = tuple(i for i in previous.segment_ids if i not in matched)
    raw = new.to_raw(centroids)
    prof = profiles(raw, new.features, quantiles)
    free = [i for i in range(k) if names[i] is None]
    taken = {n for n in names if n is not None}
    for i, name in zip(free, name_clusters(prof[free], taken), strict=True):
        names[i] = name
    next_id = max_id_ever + 1
    for i in sorted(free, key=lambda j: _name_order(str(names[j]))):
        ids[i] = next_id
        next_id += 1
    details = {
        "previous_version": previous.version if previous is not None else None,
        "shared_space": SHARED_SPACE,
        "max_distance": max_distance,
        "matches": matches,
        "new_segments": sorted(int(ids[i]) for i in free),  # type: ignore[arg-type]
        "retired_segments": list(retired),
        "profiles": {
            str(ids[i]): {"r": prof[i, 0], "f": prof[i, 1], "m": prof[i, 2]} for i in range(k)
        },
    }
    return Identity(
        tuple(int(i) for i in ids if i is not None),
        tuple(str(n) for n in names),
        retired,
        details,
    )


def centroid_shift(old: SegmentModel, new: SegmentModel) -> dict[int, float]:
    """How far each segment both models have moved, in the new model's std units."""
    new_z, old_z = in_shared_space(
        Space.of(new), np.asarray(new.centroids), Space.of(old), np.asarray(old.centroids)
    )
    out: dict[int, float] = {}
    for i, seg in enumerate(new.segment_ids):
        if seg in old.segment_ids:
            j = old.segment_ids.index(seg)
            out[seg] = float(np.sqrt(((new_z[i] - old_z[j]) ** 2).sum()))
    return out
