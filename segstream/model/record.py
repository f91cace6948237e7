"""The segment model as data: a small, versioned record that both engines write and every
scorer (Spark columns in the stream, NumPy in pandas) reads. No pickles."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

Transform = Literal["identity", "log1p"]
Status = Literal["candidate", "promoted", "retired"]
Engine = Literal["sklearn", "spark"]


@dataclass(frozen=True)
class SegmentModel:
    """One trained K-Means segmentation.

    Centroids live in the standardised space: a feature value x becomes
    `(transform(x) - mean) / std` before the distance to each centroid is taken.
    """

    version: int
    trained_at: datetime
    as_of: datetime
    rows: int
    features: tuple[str, ...]
    transforms: tuple[Transform, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    centroids: tuple[tuple[float, ...], ...]
    segment_ids: tuple[int, ...]
    segment_names: tuple[str, ...]
    engine: Engine
    status: Status = "candidate"
    metrics: dict[str, Any] = field(default_factory=dict)
    retired_segments: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (len(self.transforms) == len(self.mean) == len(self.std) == n):
            raise ValueError("features, transforms, mean and std must have one entry per feature")
        if any(s <= 0 for s in self.std):
            raise ValueError("std must be > 0 for every feature")
        if not (len(self.segment_ids) == len(self.segment_names) == len(self.centroids)):
            raise ValueError("one segment id and name per centroid")
        if any(len(c) != n for c in self.centroids):
            raise ValueError("every centroid needs one coordinate per feature")
        if len(set(self.segment_ids)) != len(self.segment_ids):
            raise ValueError("segment ids must be unique")
        if len(set(self.segment_names)) != len(self.segment_names):
            raise ValueError("segment names must be unique within a model")

    @property
    def k(self) -> int:
        return len(self.centroids)

    def to_json(self) -> str:
        body = asdict(self)
        body["trained_at"] = self.trained_at.isoformat()
        body["as_of"] = self.as_of.isoformat()
        return json.dumps(body, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SegmentModel:
        body = json.loads(text)
        body["trained_at"] = datetime.fromisoformat(body["trained_at"])
        body["as_of"] = datetime.fromisoformat(body["as_of"])
        for key in (
            "features",
            "transforms",
            "mean",
            "std",
            "segment_ids",
            "segment_names",
            "retired_segments",
        ):
            body[key] = tuple(body[key])
        body["centroids"] = tuple(tuple(c) for c in body["centroids"])
        return cls(**body)
