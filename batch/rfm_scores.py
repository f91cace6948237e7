"""`segstream scores`: classic RFM quintile scores and rule segments in Spark, stored on
`customer_segments` (only the score columns: r_score, f_score, m_score, rfm_cell,
rule_segment, frequency_band). The rules and their tie handling are in batch/rfm_rules.py;
this is the same arithmetic as Spark columns (RANK() over the whole population).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from batch.rfm_rules import HIGH_FREQUENCY, LOW_FREQUENCY, QUINTILES, RULE_GRID
from segstream.config import Settings
from segstream.contracts import tables
from segstream.lake import reads, writes
from segstream.model import segments
from segstream.model.features import FREQUENCY, MONETARY, RECENCY

log = logging.getLogger(__name__)

SCORE_COLUMNS = ("r_score", "f_score", "m_score", "rfm_cell", "rule_segment", "frequency_band")


@dataclass(frozen=True)
class ScoresResult:
    as_of: datetime
    customers: int
    updated: int


def _score(rank: str, n: int) -> Column:
    # Integer division keeps the bucket exact: floor((rank - 1) * 5 / n) + 1.
    return (F.expr(f"(({rank} - 1) * {QUINTILES}) div {n}") + 1).cast("int")


def scores(featured: DataFrame, n: int, threshold: int) -> DataFrame:
    """`customer_id` and the score columns for rows with the R/F/M feature columns.

    Args:
        featured: one row per customer with recency_days, frequency, monetary.
        n: the number of rows of `featured` (the population the quintiles are taken over).
        threshold: orders from which a customer is "High Frequency".
    """
    # A window over the whole population: one ordered partition, as a global rank needs.
    ranked = featured.select(
        "customer_id",
        FREQUENCY,
        F.rank().over(Window.orderBy(F.col(RECENCY).desc())).alias("_r"),
        F.rank().over(Window.orderBy(F.col(FREQUENCY).asc())).alias("_f"),
        F.rank().over(Window.orderBy(F.col(MONETARY).asc())).alias("_m"),
    )
    grid = F.array(*[F.lit(name) for row in RULE_GRID for name in row])
    r, f, m = _score("_r", n), _score("_f", n), _score("_m", n)
    return ranked.select(
        "customer_id",
        r.alias("r_score"),
        f.alias("f_score"),
        m.alias("m_score"),
        F.concat(r.cast("string"), f.cast("string"), m.cast("string")).alias("rfm_cell"),
        F.element_at(grid, (r - 1) * QUINTILES + f).alias("rule_segment"),
        F.when(F.col(FREQUENCY) < threshold, F.lit(LOW_FREQUENCY))
        .otherwise(F.lit(HIGH_FREQUENCY))
        .alias("frequency_band"),
    )


def run(spark: SparkSession, settings: Settings, as_of: datetime | None = None) -> ScoresResult:
    """Scores every `customer_rfm` customer and updates the score columns of those in
    `customer_segments` (a customer gets a row there when a model first scores it)."""
    rfm = reads.customer_rfm(spark, settings)
    as_of = as_of or reads.data_as_of(rfm)
    featured = segments.features(rfm, as_of).persist()
    try:
        n = featured.count()
        scored = scores(featured, n, settings.rfm_frequency_threshold)
        path = writes.ensure(spark, settings, tables.CUSTOMER_SEGMENTS)
        update = {c: f"s.{c}" for c in SCORE_COLUMNS}
        metrics = writes.upsert(scored, path, "customer_id", update, insert="none")
    finally:
        featured.unpersist()
    updated = metrics.get("num_target_rows_updated", 0)
    log.info("RFM scores of %d customers as of %s; %d rows updated", n, as_of.isoformat(), updated)
    return ScoresResult(as_of, n, updated)
