"""Settings of the batch side: names agree with the features module, bad values are refused."""

from __future__ import annotations

from typing import get_args

import pytest

from segstream.config import ConfigError, FeatureName, load_settings
from segstream.model.features import ALL_FEATURES, SKEW_TRANSFORMS

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("no_segstream_env")]


def test_feature_names_in_settings_are_the_feature_modules() -> None:
    assert set(get_args(FeatureName)) == set(ALL_FEATURES) == set(SKEW_TRANSFORMS)


def test_batch_defaults() -> None:
    s = load_settings()
    assert s.model_features == ("recency_days", "frequency", "monetary")
    assert (s.retrain_k_min, s.retrain_k_max) == (2, 10)
    assert (s.drift_warn, s.drift_alert) == (0.1, 0.25)
    assert s.rfm_frequency_threshold == 5


def test_environment_sets_the_feature_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SEGSTREAM_MODEL_FEATURES", '["recency_days", "frequency", "monetary", "tenure_days"]'
    )
    assert load_settings().model_features[-1] == "tenure_days"


@pytest.mark.parametrize(
    "overrides",
    [
        {"retrain_k_min": 5, "retrain_k_max": 3},
        {"drift_warn": 0.3, "drift_alert": 0.2},
        {"model_features": ("recency_days", "frequency")},
        {"model_features": ("recency_days", "frequency", "monetary", "monetary")},
        {"model_features": ("recency_days", "frequency", "monetary", "age")},
    ],
)
def test_bad_batch_settings_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        load_settings(**overrides)
