"""Nearest-centroid scoring of a SegmentModel: Spark column arithmetic and NumPy, same math."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyspark.sql import Column
from pyspark.sql import functions as F

from segstream.model.record import SegmentModel, Transform


def _spark_transform(col: Column, transform: Transform) -> Column:
    return F.log1p(col) if transform == "log1p" else col


def _np_transform(values: np.ndarray, transform: Transform) -> np.ndarray:
    return np.log1p(values) if transform == "log1p" else values


def standardise(model: SegmentModel, x: np.ndarray) -> np.ndarray:
    """Feature matrix (rows x model.features) -> the model's standardised space."""
    z = np.empty_like(x, dtype="float64")
    for j, transform in enumerate(model.transforms):
        z[:, j] = (_np_transform(x[:, j].astype("float64"), transform) - model.mean[j]) / model.std[
            j
        ]
    return z


@dataclass(frozen=True)
class Assignment:
    segment_id: np.ndarray
    segment_name: np.ndarray
    distance: np.ndarray


def score_numpy(model: SegmentModel, x: np.ndarray) -> Assignment:
    z = standardise(model, x)
    centroids = np.asarray(model.centroids, dtype="float64")
    d2 = ((z[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    nearest = d2.argmin(axis=1)
    ids = np.asarray(model.segment_ids)[nearest]
    names = np.asarray(model.segment_names, dtype=object)[nearest]
    return Assignment(ids, names, np.sqrt(d2[np.arange(len(z)), nearest]))


def spark_assignment(model: SegmentModel) -> dict[str, Column]:
    """Columns `segment_id`, `segment_name`, `distance` over rows that carry the model's
    feature columns. Ties go to the first centroid, as NumPy's argmin does."""
    z = [
        (_spark_transform(F.col(name), t) - F.lit(m)) / F.lit(s)
        for name, t, m, s in zip(
            model.features, model.transforms, model.mean, model.std, strict=True
        )
    ]
    d2 = [
        sum(((zj - F.lit(cj)) ** 2 for zj, cj in zip(z, c, strict=True)), F.lit(0.0))
        for c in model.centroids
    ]
    best = F.least(*d2) if len(d2) > 1 else d2[0]
    seg_id: Column = F.lit(model.segment_ids[-1])
    seg_name: Column = F.lit(model.segment_names[-1])
    for i in reversed(range(len(d2) - 1)):
        seg_id = F.when(d2[i] == best, F.lit(model.segment_ids[i])).otherwise(seg_id)
        seg_name = F.when(d2[i] == best, F.lit(model.segment_names[i])).otherwise(seg_name)
    return {"segment_id": seg_id, "segment_name": seg_name, "distance": F.sqrt(best)}
