"""The `customers` query: profiles from the compacted topic, upserted into `customers`."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from segstream.contracts import quarantine as Q
from segstream.contracts.tables import CUSTOMER_PROFILE_SCHEMA, CUSTOMERS_SCHEMA
from segstream.lake import writes
from streaming import transforms

QUERY = "customers"
CUSTOMER_UPDATE = {
    f.name: f"s.{f.name}" for f in CUSTOMERS_SCHEMA.fields if f.name != "customer_id"
}


def parse_profiles(raw: DataFrame) -> DataFrame:
    """Kafka rows of `customers` -> profile columns plus `reason` (null when usable)."""
    text = F.col("value").cast("string")
    p = F.from_json(text, CUSTOMER_PROFILE_SCHEMA)
    reason = (
        F.when(F.col("value").isNull(), F.lit(Q.EMPTY_MESSAGE))
        .when(~F.is_valid_utf8(text), F.lit(Q.NOT_UTF8))
        .when(F.try_parse_json(text).isNull(), F.lit(Q.INVALID_JSON))
        .when(F.coalesce(F.trim(p["customer_id"]), F.lit("")) == "", F.lit(Q.EMPTY_CUSTOMER_ID))
    )
    return raw.select(
        p.alias("p"),
        reason.alias("reason"),
        F.concat(F.lit("customer profile: "), reason).alias("detail"),
        *transforms.raw_message(),
    )


def latest_profiles(parsed: DataFrame) -> DataFrame:
    """The newest usable profile per customer in a batch, shaped as the `customers` table."""
    newest = Window.partitionBy("p.customer_id").orderBy(
        F.col("kafka_partition").desc(), F.col("kafka_offset").desc()
    )
    cols = {
        "customer_id": F.col("p.customer_id"),
        "signup_date": F.try_to_date(F.col("p.signup_date")),
        "kafka_partition": F.col("kafka_partition"),
        "kafka_offset": F.col("kafka_offset"),
        "updated_at": F.current_timestamp(),
    }
    for name in ("birth_year", "gender", "country", "region", "channel", "income_band"):
        cols[name] = F.col(f"p.{name}")
    return (
        parsed.where(F.col("reason").isNull())
        .withColumn("rank", F.row_number().over(newest))
        .where("rank = 1")
        .select(*[cols[f.name].cast(f.dataType).alias(f.name) for f in CUSTOMERS_SCHEMA.fields])
    )


class CustomersMicroBatch:
    """The foreachBatch callable of the `customers` query."""

    def __init__(
        self, spark: SparkSession, customers: Path, quarantine: Path, txn_app: str
    ) -> None:
        self._spark = spark
        self._customers = customers
        self._quarantine = quarantine
        self._txn_app = txn_app

    def __call__(self, raw: DataFrame, batch_id: int) -> None:
        parsed = parse_profiles(raw).persist()
        txn = writes.Txn(self._txn_app, batch_id)
        try:
            writes.append(transforms.quarantined(parsed, batch_id), self._quarantine, txn)
            writes.upsert(
                latest_profiles(parsed),
                self._customers,
                "customer_id",
                CUSTOMER_UPDATE,
                txn=txn,
                backoff_s=1.0,
            )
        finally:
            parsed.unpersist()
