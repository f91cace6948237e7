"""The one as-of representation: an aware UTC datetime, crossing into Spark as microseconds.

PySpark turns collected timestamps into naive datetimes in the *process's* time zone, and a
naive datetime given to Spark is read in that zone too, so an as-of that passed through
either would depend on the machine. Every as-of therefore leaves Spark as `unix_micros(...)`
and enters it as `timestamp_micros(...)`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyspark.sql import Column
from pyspark.sql import functions as F

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(ts: datetime) -> int:
    """Microseconds since the epoch; a naive `ts` is taken as UTC."""
    aware = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    """The aware UTC datetime of microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=micros)


def as_of_column(as_of: datetime) -> Column:
    """`as_of` as a Spark timestamp literal, independent of any time zone setting."""
    return F.timestamp_micros(F.lit(to_micros(as_of)))
