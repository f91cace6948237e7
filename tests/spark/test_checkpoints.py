"""A checkpoint that a kill left in the middle of its first batch's offsets still starts."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from pyspark.errors import StreamingQueryException

from streaming import customers
from streaming.job import LAKE_PART, check_checkpoints
from streaming.queries import APP_ID_FILE
from tests.conftest import make_settings


def _plant_interrupted_write(offsets: Path, batch: int) -> list[Path]:
    """What a SIGKILL left in a stream's checkpoint: the empty temporary file of the batch's
    offsets and its empty checksum, never renamed to `<batch>`."""
    offsets.mkdir(parents=True, exist_ok=True)
    name = f".{batch}.{uuid.uuid4()}.tmp"
    planted = [offsets / name, offsets / f".{name}.crc"]
    for path in planted:
        path.touch()
    return planted


def _read_once(spark: Any, source: Path, checkpoint: Path) -> list[str]:
    seen: list[str] = []

    def collect(batch: Any, _batch_id: int) -> None:
        seen.extend(row.value for row in batch.collect())

    query = (
        spark.readStream.text(str(source))
        .writeStream.option("checkpointLocation", str(checkpoint))
        .foreachBatch(collect)
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(120)
    return sorted(seen)


def test_leftovers_of_a_first_batch_killed_mid_write_are_cleared(
    spark: Any, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    checkpoint = settings.checkpoint_path(customers.QUERY)
    planted = _plant_interrupted_write(checkpoint / "offsets", 0)
    source = tmp_path / "source"
    source.mkdir()
    (source / "part.txt").write_text("a\nb\nc\n")

    # As Spark leaves it, the checkpoint cannot start again.
    with pytest.raises(StreamingQueryException, match="STATE_STORE_CHECKPOINT_LOCATION_NOT_EMPTY"):
        _read_once(spark, source, checkpoint)

    check_checkpoints(settings, LAKE_PART)

    assert sorted((checkpoint / "offsets").iterdir()) == []
    assert not any(p.exists() for p in planted)
    assert (checkpoint / APP_ID_FILE).is_file()
    assert _read_once(spark, source, checkpoint) == ["a", "b", "c"]


def test_a_checkpoint_with_written_offsets_is_left_as_it_is(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    offsets = settings.checkpoint_path(customers.QUERY) / "offsets"
    offsets.mkdir(parents=True)
    (offsets / "0").write_text("v1\n")
    # Spark resumes from batch 0 and writes batch 1 again; its leftover is not in the way.
    planted = _plant_interrupted_write(offsets, 1)
    unknown = offsets / "notes.txt"
    unknown.write_text("not Spark's")

    check_checkpoints(settings, LAKE_PART)

    assert sorted(offsets.iterdir()) == sorted([offsets / "0", unknown, *planted])


def test_only_spark_s_leftovers_go_from_a_first_batch(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    offsets = settings.checkpoint_path(customers.QUERY) / "offsets"
    planted = _plant_interrupted_write(offsets, 0)
    unknown = offsets / ".0.tmp"
    unknown.write_text("not Spark's")

    check_checkpoints(settings, LAKE_PART)

    assert sorted(offsets.iterdir()) == [unknown]
    assert not any(p.exists() for p in planted)
