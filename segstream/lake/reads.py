"""Reading the lake's tables in Spark: existence, rows (optionally at a version), the current
Delta version, and the as-of time that the data itself defines."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from deltalake import DeltaTable as RustDeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from segstream.config import Settings
from segstream.contracts import tables
from segstream.errors import SegstreamError
from segstream.lake.times import from_micros


class MissingDataError(SegstreamError):
    """A table a job needs does not exist or is empty."""


def is_table(path: Path) -> bool:
    """True when a Delta table lives at `path` (its log holds a commit); no Spark job needed.

    A log folder alone is not enough: a writer creating the table makes it before its first
    commit. Commits are `<version>.json`; their temporary and checksum files start with a
    dot, which the pattern does not match.
    """
    return next((path / "_delta_log").glob("*.json"), None) is not None


def exists(settings: Settings, name: str) -> bool:
    return is_table(settings.table_path(name))


def read(
    spark: SparkSession, settings: Settings, name: str, version: int | None = None
) -> DataFrame | None:
    """The table as a DataFrame (pinned to `version` if given), or None if it does not exist."""
    if not exists(settings, name):
        return None
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(str(settings.table_path(name)))


def table(spark: SparkSession, settings: Settings, name: str) -> DataFrame:
    """The table as a DataFrame; it must exist (see `segstream.lake.writes.ensure`)."""
    return spark.read.format("delta").load(str(settings.table_path(name)))


def version(settings: Settings, name: str) -> int:
    """The table's current Delta version (it changes with every commit), read from its log
    with delta-rs: milliseconds, where a Spark job took a tenth of a second or more (the
    stream asks once per batch)."""
    return int(RustDeltaTable(str(settings.table_path(name))).version())


def customer_rfm(spark: SparkSession, settings: Settings) -> DataFrame:
    """The `customer_rfm` table.

    Raises:
        MissingDataError: the stream has not created it yet.
    """
    rfm = read(spark, settings, tables.CUSTOMER_RFM)
    if rfm is None:
        raise MissingDataError(
            f"no {tables.CUSTOMER_RFM} table under {settings.lake}: run the stream first"
        )
    return rfm


def newest_event_time(rfm: DataFrame) -> datetime | None:
    """max(last_event_at) over `customer_rfm` rows (aware UTC), None when there are none."""
    micros = rfm.agg(F.max(F.unix_micros("last_event_at"))).collect()[0][0]
    return None if micros is None else from_micros(int(micros))


def data_as_of(rfm: DataFrame) -> datetime:
    """The newest event time seen: what recency is measured against.

    Raises:
        MissingDataError: the table has no rows.
    """
    newest = newest_event_time(rfm)
    if newest is None:
        raise MissingDataError(f"{tables.CUSTOMER_RFM} is empty")
    return newest
