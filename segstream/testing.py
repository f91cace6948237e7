"""Test data that tests and benchmarks share: synthetic `customer_rfm` rows straight from
NumPy, with the skew of real shops (most customers bought once, long ago, for little; a few
buy often and spend a lot).

The simulator (producers/) is the realistic way to get data end to end; this is the fast way
to get a million customers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segstream.contracts.tables import CUSTOMER_RFM_SCHEMA

AS_OF = datetime(2025, 1, 1, tzinfo=UTC)

# The rows Spark's Kafka source yields (without headers): what a micro-batch body receives.
KAFKA_SCHEMA = T.StructType(
    [
        T.StructField("key", T.BinaryType()),
        T.StructField("value", T.BinaryType()),
        T.StructField("topic", T.StringType()),
        T.StructField("partition", T.IntegerType()),
        T.StructField("offset", T.LongType()),
        T.StructField("timestamp", T.TimestampType()),
        T.StructField("timestampType", T.IntegerType()),
    ]
)

# persona: (share, mean orders above one, median order value, mean recency days)
PERSONAS: dict[str, tuple[float, float, float, float]] = {
    "champion": (0.05, 20.0, 80.0, 6.0),
    "loyal": (0.12, 8.0, 50.0, 20.0),
    "big_spender": (0.05, 2.0, 400.0, 40.0),
    "new": (0.13, 0.2, 40.0, 10.0),
    "at_risk": (0.15, 6.0, 60.0, 150.0),
    "hibernating": (0.2, 1.0, 35.0, 200.0),
    "lost": (0.3, 0.1, 25.0, 400.0),
}


def personas(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    names = list(PERSONAS)
    shares = np.array([PERSONAS[p][0] for p in names])
    return np.asarray(rng.choice(len(names), size=n, p=shares / shares.sum()))


def rfm_frame(n: int, seed: int = 0, as_of: datetime = AS_OF) -> pd.DataFrame:
    """`n` customers as a pandas frame of customer_rfm columns (money as float)."""
    rng = np.random.default_rng(seed + 1)
    who = personas(n, seed)
    params = np.array([PERSONAS[p][1:] for p in PERSONAS])[who]
    orders = 1 + rng.poisson(params[:, 0])
    aov = params[:, 1] * rng.lognormal(0.0, 0.5, size=n)
    gross = np.round(orders * aov, 2)
    returns = np.round(np.where(rng.random(n) < 0.1, gross * rng.uniform(0, 0.3, n), 0.0), 2)
    recency_s = rng.exponential(params[:, 2], size=n) * 86_400.0
    tenure_s = recency_s + rng.exponential(120.0, size=n) * 86_400.0 * np.sqrt(orders)
    end = pd.Timestamp(as_of).tz_convert("UTC").tz_localize(None)
    last = end - pd.to_timedelta(np.round(recency_s), unit="s")
    first = end - pd.to_timedelta(np.round(tenure_s), unit="s")
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:07d}" for i in range(n)],
            "first_purchase_at": first,
            "last_purchase_at": last,
            "orders": orders.astype("int64"),
            "gross_revenue": gross,
            "returns_amount": returns,
            "monetary": np.round(gross - returns, 2),
            "items": (orders * (1 + rng.poisson(1.5, size=n))).astype("int64"),
            "last_event_at": last,
            "updated_at": end,
        }
    )


def rfm_dataframe(spark: SparkSession, frame: pd.DataFrame) -> DataFrame:
    """The frame as a Spark DataFrame with exactly the customer_rfm schema."""
    key = "spark.sql.execution.arrow.pyspark.enabled"
    spark.conf.set(key, "true")
    try:
        df = spark.createDataFrame(frame)
    finally:
        spark.conf.unset(key)
    return df.select(*[F.col(f.name).cast(f.dataType) for f in CUSTOMER_RFM_SCHEMA.fields])


def write_rfm(spark: SparkSession, frame: pd.DataFrame, path: str) -> None:
    """Overwrites the Delta table at `path` with these customers."""
    rfm_dataframe(spark, frame).write.format("delta").mode("overwrite").save(path)


def shift(frame: pd.DataFrame, days: float) -> pd.DataFrame:
    """The same customers `days` later with nobody buying (every timestamp moved back)."""
    out = frame.copy()
    delta = timedelta(days=days)
    for col in ("first_purchase_at", "last_purchase_at", "last_event_at"):
        out[col] = out[col] - delta
    return out


def kafka_frame(
    spark: SparkSession,
    messages: list[tuple[bytes | None, bytes | None]],
    topic: str = "transactions",
    partition: int = 0,
    first_offset: int = 0,
    at: datetime = AS_OF,
) -> DataFrame:
    """(key, value) messages as the Kafka source would deliver them from one partition, at
    consecutive offsets from `first_offset`."""
    rows = [
        (key, value, topic, partition, first_offset + i, at, 0)
        for i, (key, value) in enumerate(messages)
    ]
    return spark.createDataFrame(rows, KAFKA_SCHEMA)
