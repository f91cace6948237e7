"""The per-batch model decisions of `customer-state`: a new batch takes the promoted model and
records it before it runs; a replayed batch reads its own back, whatever is promoted by then;
the decisions and the model everyone was asked to be re-scored with survive a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from streaming.model_log import LOG_FILE, ModelLog

pytestmark = pytest.mark.unit


def test_batches_keep_their_model_and_a_promotion_starts_at_the_next(tmp_path: Path) -> None:
    promoted: list[int | None] = [None]
    asked: list[int] = []

    def current() -> int | None:
        asked.append(0)
        return promoted[0]

    log = ModelLog(tmp_path)
    assert log.for_batch(0, current) is None
    promoted[0] = 1
    assert log.for_batch(1, current) == 1
    assert log.rescored_version() is None  # batch 0 may have left customers without a segment
    assert (tmp_path / LOG_FILE).is_file()

    # Promoted while batch 2 ran: a replay of batch 2 keeps v1 and does not even ask.
    assert log.for_batch(2, current) == 1
    promoted[0] = 2
    n = len(asked)
    assert log.for_batch(2, current) == 1
    assert log.for_batch(1, current) == 1
    assert log.for_batch(0, current) is None
    assert len(asked) == n
    assert log.for_batch(3, current) == 2

    # A restart reads every decision back.
    again = ModelLog(tmp_path)
    assert [again.for_batch(b, lambda: 9) for b in range(4)] == [None, 1, 1, 2]
    assert again.rescored_version() is None
    again.rescored(2)
    assert ModelLog(tmp_path).rescored_version() == 2
    assert again.for_batch(4, lambda: 9) == 9
    assert ModelLog(tmp_path).rescored_version() == 2


def test_a_first_batch_with_a_model_owes_no_rescore(tmp_path: Path) -> None:
    log = ModelLog(tmp_path)
    assert log.for_batch(0, lambda: 4) == 4
    assert log.rescored_version() == 4
