"""Reading the lake's tables for the batch jobs, and the as-of time they measure against.

Times cross the Python/Spark boundary as microseconds since the epoch: PySpark turns
collected timestamps into naive datetimes in the *process's* time zone, which would make
the as-of depend on the machine it runs on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from segstream.config import Settings
from segstream.contracts import tables
from streaming.sinks import ensure_table

# Tables the batch side writes, and their schemas.
BATCH_TABLES: dict[str, StructType] = {
    tables.CUSTOMER_SEGMENTS: tables.CUSTOMER_SEGMENTS_SCHEMA,
    tables.SEGMENT_HISTORY: tables.SEGMENT_HISTORY_SCHEMA,
    tables.SEGMENT_SNAPSHOTS: tables.SEGMENT_SNAPSHOTS_SCHEMA,
    tables.DRIFT: tables.DRIFT_SCHEMA,
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class MissingDataError(RuntimeError):
    """A table the job needs does not exist or is empty."""


def exists(spark: SparkSession, settings: Settings, name: str) -> bool:
    return bool(DeltaTable.isDeltaTable(spark, str(settings.table_path(name))))


def read(
    spark: SparkSession, settings: Settings, name: str, version: int | None = None
) -> DataFrame | None:
    """The table as a DataFrame (pinned to `version` if given), or None if it does not exist."""
    if not exists(spark, settings, name):
        return None
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(str(settings.table_path(name)))


def ensure(spark: SparkSession, settings: Settings, name: str) -> str:
    """Creates one of the batch side's tables if missing; returns its path."""
    path = settings.table_path(name)
    ensure_table(spark, path, BATCH_TABLES[name])
    return str(path)


def version(spark: SparkSession, settings: Settings, name: str) -> int:
    """The table's current Delta version."""
    path = str(settings.table_path(name))
    return int(DeltaTable.forPath(spark, path).history(1).select("version").collect()[0][0])


def customer_rfm(spark: SparkSession, settings: Settings) -> DataFrame:
    rfm = read(spark, settings, tables.CUSTOMER_RFM)
    if rfm is None:
        raise MissingDataError(
            f"no {tables.CUSTOMER_RFM} table under {settings.lake}: run the stream first"
        )
    return rfm


def to_micros(ts: datetime) -> int:
    aware = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def as_of_column(as_of: datetime) -> Column:
    """`as_of` as a Spark timestamp literal, independent of any time zone setting."""
    return F.timestamp_micros(F.lit(to_micros(as_of)))


def data_as_of(rfm: DataFrame) -> datetime:
    """The newest event time seen: max(last_event_at) over `customer_rfm`.

    Raises:
        MissingDataError: the table has no rows.
    """
    micros = rfm.agg(F.max(F.unix_micros("last_event_at"))).collect()[0][0]
    if micros is None:
        raise MissingDataError(f"{tables.CUSTOMER_RFM} is empty")
    return from_micros(int(micros))
