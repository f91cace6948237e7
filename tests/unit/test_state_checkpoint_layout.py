"""A `customer-state` checkpoint of the earlier layout (two sources, no model version held with
the segment) is refused before Spark starts, naming the rebuild; today's layout is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from streaming import customer_state
from tests.conftest import make_settings

pytestmark = pytest.mark.unit

_META = '{"batchWatermarkMs":0,"batchTimestampMs":1}'


def _offsets(settings, sources: list[str]) -> None:  # type: ignore[no-untyped-def]
    folder = settings.checkpoint_path(customer_state.QUERY) / "offsets"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "0").write_text("\n".join(["v1", _META, *sources]))


def test_earlier_layout_is_refused_with_the_rebuild_named(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    customer_state.check_layout(settings)  # no checkpoint yet
    _offsets(settings, ['{"tx":{"0":5}}', '{"control":{"0":1},"scores":{"0":7}}'])
    with pytest.raises(customer_state.EarlierCheckpoint, match="segstream stream --rebuild"):
        customer_state.check_layout(settings)


def test_todays_layout_passes(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    _offsets(settings, ['{"tx":{"0":5}}', '{"control":{"0":1}}', '{"scores":{"0":7}}'])
    customer_state.check_layout(settings)
