"""Drift arithmetic on hand-computed examples: PSI, bins, levels, migration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from batch import drift

pytestmark = pytest.mark.unit


def test_psi_matches_the_formula_by_hand() -> None:
    # (0.5 - 0.25) ln(0.5 / 0.25) + 0 + (0.25 - 0.5) ln(0.25 / 0.5) = 0.5 ln 2
    assert drift.psi([0.25, 0.25, 0.5], [0.5, 0.25, 0.25]) == pytest.approx(0.5 * math.log(2))
    assert drift.psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0


def test_psi_floors_empty_bins_at_epsilon() -> None:
    # The empty expected bin counts as 1e-4:
    # (0.1 - 0.0001) ln(0.1 / 0.0001) + (0.4 - 0.5) ln(0.4 / 0.5) = 0.690085 + 0.022314
    got = drift.psi([0.5, 0.5, 0.0], [0.5, 0.4, 0.1])
    assert got == pytest.approx(0.0999 * math.log(1000) - 0.1 * math.log(0.8))
    assert got == pytest.approx(0.712399, abs=1e-6)


def test_bins_are_closed_on_the_right() -> None:
    # bins: v <= 2 | 2 < v <= 5 | v > 5
    values = np.array([1.0, 2.0, 2.0, 3.0, 10.0])
    assert drift.bin_index(values, [2.0, 5.0]).tolist() == [0, 0, 0, 1, 2]
    assert drift.bin_proportions(values, [2.0, 5.0]).tolist() == [0.6, 0.2, 0.2]
    # Tied quantiles collapse: a feature that is mostly 1 has fewer edges than bins. The 20/40/
    # 60/80% quantiles of eight 1s, a 2 and a 3 (linear) are 1, 1, 1 and 1 + 0.2 * (2 - 1).
    edges = drift.quantile_edges(np.array([1.0] * 8 + [2.0, 3.0]), 5)
    assert edges.tolist() == pytest.approx([1.0, 1.2])


def test_levels_follow_the_thresholds() -> None:
    assert [drift.level(v, 0.1, 0.25) for v in (0.05, 0.1, 0.2, 0.25, 0.9)] == [
        "ok",
        "warn",
        "warn",
        "alert",
        "alert",
    ]


def test_migration_matrix_counts_moves_of_customers_present_twice() -> None:
    mig = drift.migration_matrix([(1, 1, 8), (1, 2, 2), (2, 2, 5), (None, 1, 3), (2, 1, 5)])
    assert mig.labels == (None, 1, 2)
    assert mig.counts.tolist() == [[0, 3, 0], [0, 8, 2], [0, 5, 5]]
    # present at both times: 8 + 2 + 5 + 5 = 20, moved 2 + 5 = 7
    assert mig.moved_share == pytest.approx(7 / 20)
