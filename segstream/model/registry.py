"""The `models` Delta table: every trained version, and which one is promoted.

Promotion is one Delta commit that flips the old version to `retired` and the new one to
`promoted`, so a reader at any table version sees exactly one whole promoted model.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from segstream.config import Settings
from segstream.contracts import tables
from segstream.errors import SegstreamError
from segstream.lake import reads, writes
from segstream.model.record import SegmentModel


class RegistryError(SegstreamError):
    """A model version is missing or cannot be promoted."""


def ensure(spark: SparkSession, settings: Settings) -> str:
    return str(writes.ensure(spark, settings, tables.MODELS))


def table_version(spark: SparkSession, settings: Settings) -> int:
    """The Delta version of `models`: it changes exactly when a model is added or promoted."""
    ensure(spark, settings)
    return reads.version(settings, tables.MODELS)


def _load(row_record: str, status: str) -> SegmentModel:
    return dataclasses.replace(SegmentModel.from_json(row_record), status=status)  # type: ignore[arg-type]


def current(
    spark: SparkSession, settings: Settings, at_version: int | None = None
) -> SegmentModel | None:
    """The promoted model (as of Delta version `at_version` if given), or None before the
    first promotion."""
    path = ensure(spark, settings)
    reader = spark.read.format("delta")
    if at_version is not None:
        reader = reader.option("versionAsOf", at_version)
    rows = reader.load(path).where("status = 'promoted'").collect()
    if len(rows) > 1:
        raise RegistryError(f"{len(rows)} promoted models in {path}: the table was edited by hand")
    return _load(rows[0].record, rows[0].status) if rows else None


def get(spark: SparkSession, settings: Settings, version: int) -> SegmentModel:
    path = ensure(spark, settings)
    rows = spark.read.format("delta").load(path).where(F.col("version") == version).collect()
    if not rows:
        raise RegistryError(f"no model version {version}")
    return _load(rows[0].record, rows[0].status)


def list_models(spark: SparkSession, settings: Settings) -> list[SegmentModel]:
    path = ensure(spark, settings)
    rows = spark.read.format("delta").load(path).orderBy("version").collect()
    return [_load(r.record, r.status) for r in rows]


def next_version(spark: SparkSession, settings: Settings) -> int:
    path = ensure(spark, settings)
    top = spark.read.format("delta").load(path).agg(F.max("version")).collect()[0][0]
    return 1 if top is None else int(top) + 1


def register(spark: SparkSession, settings: Settings, model: SegmentModel) -> SegmentModel:
    """Adds a model as a candidate under the next free version number.

    The row goes in by a MERGE on `version` that inserts only when the version is not
    there: of two registrations that chose the same number (two retrains at once), Delta
    commits one and the other conflicts, and retries with the next number.
    """
    path = ensure(spark, settings)

    def attempt() -> SegmentModel:
        stored = dataclasses.replace(
            model, version=next_version(spark, settings), status="candidate"
        )
        row = [
            (
                stored.version,
                "candidate",
                stored.trained_at,
                stored.as_of,
                stored.engine,
                stored.k,
                stored.rows,
                stored.to_json(),
                None,
            )
        ]
        (
            DeltaTable.forPath(spark, path)
            .alias("t")
            .merge(
                spark.createDataFrame(row, tables.MODELS_SCHEMA).alias("s"), "t.version = s.version"
            )
            .whenNotMatchedInsertAll()
            .execute()
        )
        return stored

    return writes.retry_on_conflict(attempt, "registering a model", attempts=10)


def promote(spark: SparkSession, settings: Settings, version: int) -> None:
    """Makes `version` the promoted model in one commit; the previous one becomes retired."""
    path = ensure(spark, settings)
    get(spark, settings, version)
    # Two promotions at once: one commits, the other conflicts and goes after it, so the
    # table ends with one promoted model.
    writes.retry_on_conflict(
        lambda: _flip(spark, path, version), f"promoting model {version}", attempts=10
    )


def _flip(spark: SparkSession, path: str, version: int) -> None:
    DeltaTable.forPath(spark, path).update(
        condition=(F.col("version") == version) | (F.col("status") == "promoted"),
        set={
            "status": F.when(F.col("version") == version, F.lit("promoted")).otherwise(
                F.lit("retired")
            ),
            "promoted_at": F.when(
                F.col("version") == version, F.lit(datetime.now(UTC)).cast("timestamp")
            ).otherwise(F.col("promoted_at")),
        },
    )


def rollback_target(spark: SparkSession, settings: Settings) -> int:
    """The version promoted before the current one (latest promoted_at among the others).

    Raises:
        RegistryError: no other version was ever promoted.
    """
    path = ensure(spark, settings)
    rows = (
        spark.read.format("delta")
        .load(path)
        .where((F.col("status") != "promoted") & F.col("promoted_at").isNotNull())
        .orderBy(F.col("promoted_at").desc(), F.col("version").desc())
        .limit(1)
        .collect()
    )
    if not rows:
        raise RegistryError("no previously promoted version to roll back to")
    return int(rows[0]["version"])


def rollback(spark: SparkSession, settings: Settings) -> int:
    """Promotes the previously promoted version again; returns it."""
    version = rollback_target(spark, settings)
    promote(spark, settings, version)
    return version
