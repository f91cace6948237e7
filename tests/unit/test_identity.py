"""Stable segment identity and profile-based names, on planted clusters (scikit-learn, no JVM)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import pytest

from batch import identity, train_sklearn
from batch.fitting import FitResult, TrainParams, max_segment_id, to_record
from segstream.model.record import SegmentModel
from segstream.model.scoring import score_numpy
from tests.planted import FEATURES, FOUR, GROUPS, planted

pytestmark = pytest.mark.unit

AS_OF = datetime(2025, 1, 1, tzinfo=UTC)


def fit(x: np.ndarray, seed: int, k: int | None = None) -> tuple[FitResult, TrainParams]:
    params = TrainParams(
        ks=(k,) if k else (2, 3, 4, 5, 6),
        forced=k is not None,
        restarts=2,
        max_iter=100,
        seed=seed,
        silhouette_sample=1000,
        drift_bins=10,
    )
    return train_sklearn.fit(x, FEATURES, params), params


def model_of(
    result: FitResult,
    params: TrainParams,
    previous: SegmentModel | None,
    max_id: int,
    centroids: np.ndarray | None = None,
) -> SegmentModel:
    if centroids is not None:  # the same fit with its clusters in another order
        fits = tuple(
            dataclasses.replace(f, centroids=centroids) if f.k == result.choice.k else f
            for f in result.fits
        )
        result = dataclasses.replace(result, fits=fits)
    chosen = result.chosen
    quantiles = {name: s.quantiles for name, s in result.stats.items()}
    ident = identity.assign(result.space, chosen.centroids, quantiles, previous, max_id, 1.0)
    model = to_record(result, ident, AS_OF, AS_OF, params)
    return dataclasses.replace(model, version=1 if previous is None else previous.version + 1)


def by_group(model: SegmentModel, groups: list[str]) -> dict[str, tuple[int, str]]:
    """The segment (id, name) each planted group's centre falls in."""
    centres = np.array([GROUPS[g] for g in groups])
    a = score_numpy(model, centres)
    return {
        g: (int(i), str(n)) for g, i, n in zip(groups, a.segment_id, a.segment_name, strict=True)
    }


@pytest.fixture(scope="module")
def first() -> SegmentModel:
    result, params = fit(planted(FOUR), seed=0)
    return model_of(result, params, None, 0)


def test_first_model_names_segments_by_profile_and_numbers_them_in_name_order(
    first: SegmentModel,
) -> None:
    assert first.k == 4
    assert by_group(first, FOUR) == {
        "champions": (1, "Champions"),
        "new": (2, "Promising/New"),
        "at_risk": (3, "At Risk"),
        "lost": (4, "Lost"),
    }
    sel = first.metrics["k_selection"]
    assert sel["ks"] == [2, 3, 4, 5, 6] and len(sel["inertia"]) == len(sel["silhouette"]) == 5


def test_retraining_the_same_data_with_another_seed_keeps_every_id_and_name(
    first: SegmentModel,
) -> None:
    result, params = fit(planted(FOUR, seed=1), seed=7)
    second = model_of(result, params, first, max_segment_id([first]))
    assert by_group(second, FOUR) == by_group(first, FOUR)
    assert second.retired_segments == ()
    assert second.metrics["identity"]["new_segments"] == []
    assert all(m["distance"] < 0.2 for m in second.metrics["identity"]["matches"])


def test_permuted_clusters_get_the_same_ids(first: SegmentModel) -> None:
    result, params = fit(planted(FOUR, seed=1), seed=7)
    for perm in ([3, 2, 1, 0], [1, 3, 0, 2]):
        permuted = result.chosen.centroids[perm]
        again = model_of(result, params, first, 4, centroids=permuted)
        assert by_group(again, FOUR) == by_group(first, FOUR)


def test_a_genuinely_new_cluster_gets_a_new_id_and_a_vanished_one_is_retired(
    first: SegmentModel,
) -> None:
    five = [*FOUR, "big_spenders"]
    result, params = fit(planted(five, seed=2), seed=3, k=5)
    grown = model_of(result, params, first, max_segment_id([first]))
    got = by_group(grown, five)
    assert {g: got[g] for g in FOUR} == by_group(first, FOUR)
    assert got["big_spenders"][0] == 5
    assert got["big_spenders"][1] not in {n for _, n in by_group(first, FOUR).values()}
    assert grown.metrics["identity"]["new_segments"] == [5]

    three = ["champions", "new", "at_risk"]
    result, params = fit(planted(three, seed=4), seed=5, k=3)
    shrunk = model_of(result, params, grown, max_segment_id([first, grown]))
    assert by_group(shrunk, three) == {g: got[g] for g in three}
    assert set(shrunk.retired_segments) == {4, 5}


def test_names_are_unique_and_extra_clusters_get_numbered_names() -> None:
    profiles = np.array([[0.9, 0.9, 0.9]] * 10)
    names = identity.name_clusters(profiles, taken={"Lost"})
    assert len(set(names)) == 10 and "Lost" not in names
    assert "Champions" in names and "Champions 2" in names


def test_percentile_places_ties_at_their_middle() -> None:
    grid = [1.0] * 50 + [2.0] * 25 + [3.0] * 26
    assert identity.percentile(grid, 1.0) == pytest.approx(25 / 101)
    assert identity.percentile(grid, 2.0) == pytest.approx(62.5 / 101)
    assert identity.percentile(grid, 1.5) == pytest.approx((25 + 62.5) / 2 / 101)


def test_centroid_shift_is_zero_for_the_same_centroids(first: SegmentModel) -> None:
    assert all(
        v == pytest.approx(0.0, abs=1e-9) for v in identity.centroid_shift(first, first).values()
    )
