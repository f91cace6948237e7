"""Choosing k: the knee of the inertia curve (Kneedle), refined by silhouette. Pure NumPy.

Kneedle (Satopaa et al., 2011) for a decreasing, convex curve: scale k and inertia to the
unit square, draw the chord from the first to the last point, and take the point furthest
below it. On a curve with no bend (straight or concave) no point lies below the chord and
there is no knee.

The elbow of a smooth curve is only known to about one step, so the chosen k is the one with
the best silhouette among the knee and its two neighbours (the knee wins ties). Without a
knee, the best silhouette over the whole range decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class KChoice:
    """The k chosen and why."""

    k: int
    knee: int | None
    reason: str


def knee(ks: Sequence[int], inertias: Sequence[float]) -> int | None:
    """The k at the knee of a decreasing inertia curve, or None if the curve has no bend.

    Args:
        ks: the k values tried, strictly increasing.
        inertias: the inertia (within-cluster sum of squares) of each k.

    Returns:
        The k whose point lies furthest below the chord between the curve's end points.
    """
    if len(ks) != len(inertias):
        raise ValueError("one inertia per k")
    if len(ks) < 3:
        return None
    x = np.asarray(ks, dtype="float64")
    y = np.asarray(inertias, dtype="float64")
    span_y = y[0] - y[-1]
    if span_y <= 0:
        return None
    xn = (x - x[0]) / (x[-1] - x[0])
    yn = (y - y[-1]) / span_y
    # The chord runs from (0, 1) to (1, 0): x + y = 1. Points of a convex decreasing curve lie
    # below it; their (unscaled) distance to it is 1 - x - y.
    gap = 1.0 - xn - yn
    best = int(np.argmax(gap))
    if gap[best] <= 1e-12:
        return None
    return int(ks[best])


def choose_k(ks: Sequence[int], inertias: Sequence[float], silhouettes: Sequence[float]) -> KChoice:
    """Picks k from the knee of the inertia curve and the silhouette around it.

    Args:
        ks: the k values tried, strictly increasing.
        inertias: inertia per k.
        silhouettes: mean silhouette per k (NaN when it could not be computed).

    Returns:
        The chosen k, the knee (None without one) and a one-line reason.
    """
    if not (len(ks) == len(inertias) == len(silhouettes)) or not ks:
        raise ValueError("one inertia and one silhouette per k, at least one k")
    sil = {k: (s if np.isfinite(s) else -1.0) for k, s in zip(ks, silhouettes, strict=True)}
    at_knee = knee(ks, inertias)
    if at_knee is None:
        best = max(ks, key=lambda k: (sil[k], -k))
        return KChoice(best, None, f"no knee in the inertia curve; best silhouette at k={best}")
    around = [k for k in ks if abs(k - at_knee) <= 1]
    best = max(around, key=lambda k: (sil[k], k == at_knee))
    if best == at_knee:
        return KChoice(best, at_knee, f"knee at k={at_knee}, best silhouette of its neighbours")
    return KChoice(
        best, at_knee, f"knee at k={at_knee}; neighbour k={best} has a better silhouette"
    )
