"""Choosing k: the Kneedle knee and its silhouette refinement, on hand-computed curves."""

from __future__ import annotations

import pytest

from batch.kmeans_select import choose_k, knee

pytestmark = pytest.mark.unit


def test_knee_is_the_point_furthest_below_the_chord() -> None:
    # Scaled: x = 0, .2, .4, .6, .8, 1 and y = (I - 10) / 90 = 1, .333, .111, .056, .022, 0;
    # 1 - x - y = 0, .467, .489, .344, .178, 0: the largest gap is at k = 3.
    assert knee([1, 2, 3, 4, 5, 6], [100, 40, 20, 15, 12, 10]) == 3
    # A sharp bend at 4 (four planted clusters).
    assert knee([2, 3, 4, 5, 6], [900, 500, 100, 90, 80]) == 4


def test_no_knee_on_a_straight_or_concave_curve_or_too_few_points() -> None:
    assert knee([2, 3, 4, 5], [40, 30, 20, 10]) is None
    assert knee([2, 3, 4, 5], [40, 39, 35, 10]) is None
    assert knee([2, 3], [40, 10]) is None


def test_silhouette_decides_between_the_knee_and_its_neighbours() -> None:
    ks, inertia = [2, 3, 4, 5, 6], [900, 500, 100, 90, 80]
    assert choose_k(ks, inertia, [0.5, 0.6, 0.7, 0.6, 0.2]).k == 4
    # k=3 beats the knee on silhouette; k=2 is better still but not a neighbour of the knee.
    choice = choose_k(ks, inertia, [0.9, 0.75, 0.7, 0.6, 0.2])
    assert (choice.k, choice.knee) == (3, 4)
    # A tie keeps the knee; a NaN silhouette counts as the worst.
    assert choose_k(ks, inertia, [0.1, 0.7, 0.7, float("nan"), 0.2]).k == 4


def test_without_a_knee_the_best_silhouette_wins() -> None:
    choice = choose_k([2, 3, 4], [40, 30, 20], [0.3, 0.5, 0.4])
    assert (choice.k, choice.knee) == (3, None)
