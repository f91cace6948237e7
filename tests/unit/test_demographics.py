"""Demographic mix and the chi-square test of independence between segment and demographic."""

from __future__ import annotations

import numpy as np
import pytest

from batch import demographics

pytestmark = pytest.mark.unit


def _counts(rows: list[tuple[int, str]]) -> dict[tuple[int, str], int]:
    out: dict[tuple[int, str], int] = {}
    for key in rows:
        out[key] = out.get(key, 0) + 1
    return out


def test_chi_square_finds_a_planted_dependency() -> None:
    rng = np.random.default_rng(3)
    # Segment 1 is 80% "f", segment 2 is 20% "f".
    rows = [(1, "f" if rng.random() < 0.8 else "m") for _ in range(300)]
    rows += [(2, "f" if rng.random() < 0.2 else "m") for _ in range(300)]
    _, _, table = demographics.contingency(_counts(rows), [1, 2])
    result = demographics.chi_square(table)
    assert result is not None
    assert result["dependent"] and result["p_value"] < 1e-6
    assert result["dof"] == 1 and result["cramers_v"] > 0.4


def test_chi_square_does_not_flag_an_independent_demographic() -> None:
    rng = np.random.default_rng(3)
    rows = [(s, str(rng.choice(["a", "b", "c"]))) for s in (1, 2, 3) for _ in range(400)]
    _, _, table = demographics.contingency(_counts(rows), [1, 2, 3])
    result = demographics.chi_square(table)
    assert result is not None
    assert not result["dependent"] and result["p_value"] > 0.05
    # An exactly proportional table has no evidence at all.
    exact = demographics.chi_square(np.array([[30, 20], [60, 40]]))
    assert exact is not None and exact["chi2"] == pytest.approx(0.0) and exact["p_value"] == 1.0


def test_unknowns_rare_values_and_degenerate_tables() -> None:
    counts = {(1, "UK"): 50, (2, "UK"): 40, (1, "FR"): 2, (2, "MT"): 1, (1, "unknown"): 7}
    pooled = demographics.pool_rare(counts)
    assert pooled == {
        (1, "UK"): 50,
        (2, "UK"): 40,
        (1, "other"): 2,
        (2, "other"): 1,
        (1, "unknown"): 7,
    }
    segments, values, table = demographics.contingency(pooled, [1, 2])
    assert segments == [1, 2]
    assert values == ["UK", "other"] and table.tolist() == [[50, 2], [40, 1]]
    assert demographics.chi_square(np.array([[5, 0], [7, 0]])) is None  # one value only
    assert demographics.mix({(1, "f"): 3, (1, "m"): 1}) == {1: {"f": 0.75, "m": 0.25}}


def test_age_bands() -> None:
    assert [demographics.age_band(y, 2025) for y in (2005, 2001, 1990, 1960, 1950, None)] == [
        "<25",
        "<25",
        "35-44",
        "65+",
        "65+",
        "unknown",
    ]
