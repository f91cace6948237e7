"""The `customer-state` query: each customer's running totals and segment, held in Spark's
state store, re-scored as soon as something new reaches the customer.

It reads three topics: `transactions` (parsed and validated here, valid events deduplicated
by id), re-score requests (`segment-control`) and the query's own `customer-scores`, whose
latest record per customer is the segment the customer holds. It is the whole hot path: one
micro-batch from a purchase to the feed. A native aggregation per customer keeps the totals (sums,
counts, min/max: exact, and replayed exactly from the checkpoint), the newest request and the
held record; every customer it updates comes out (update mode), is scored with the model the
query runs with, and is published in the same Spark job: a `customer-scores` record, and a
`segment-changes` record when the segment differs from the held one. No table is read, and
nothing leaves the JVM.

A customer's as-of is the newest of its own event times, its requests' as-ofs and its held
record's: it never goes back, and it depends on nothing but the customer's own inputs, so a
replayed batch measures it again exactly. The model is fixed for the life of the query
(its coefficients are literals of the plan); `streaming.model_switch` pins which one, so a
batch replayed after a crash scores with the model of its first attempt.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.streaming.query import StreamingQuery

from segstream.config import Settings
from segstream.contracts.events import TOTAL_MONEY
from segstream.contracts.segment_changes import SEGMENT_CHANGE_SCHEMA
from segstream.contracts.stream_records import (
    AGING,
    CONTROL_SCHEMA,
    JSON_OPTIONS,
    PURCHASE,
    SCORES_SCHEMA,
    STATE_QUERY,
)
from segstream.model import segments
from segstream.model.features import ALL_FEATURES
from segstream.model.record import SegmentModel
from streaming import sources, transforms

QUERY = STATE_QUERY
# What `totals` reads of an event.
_EVENT_FIELDS = ("event_id", "event_type", "event_time", "amount", "item_count", "produced_at")
# What `totals` reads of a held record. The query reads back every record it publishes, and
# parsing only these fields costs ~40 % less than the whole record (no decimals, one
# timestamp; from_json here: 3.2 against 5.5 us per record).
_HELD_SCHEMA = T.StructType(
    [
        SCORES_SCHEMA[name]
        for name in ("customer_id", "n_inputs", "n_events", "segment_id", "segment_name", "as_of")
    ]
)


def inputs(raw: DataFrame, others: DataFrame, settings: Settings) -> DataFrame:
    """Kafka rows of `transactions` and of the other two topics -> one row per event, request
    or held record: `customer_id`, `ev` (event), `req` (request), `req_order`, `held`.

    Only valid events count (the lake quarantines the rest, judged by the same
    `transforms.parse`), each once: a duplicate event id is dropped, in the state store.
    """
    events = (
        transforms.events(transforms.parse(raw))
        .select("customer_id", "event_id", F.struct(*_EVENT_FIELDS).alias("ev"))
        .dropDuplicates(["event_id"])
        .drop("event_id")
    )

    rest = others.select(
        transforms.record_of(settings.topic_segment_control, CONTROL_SCHEMA).alias("req"),
        transforms.record_of(settings.topic_customer_scores, _HELD_SCHEMA).alias("held"),
        F.struct("timestamp", "partition", "offset").alias("req_order"),
    ).select(
        F.coalesce(F.col("req.customer_id"), F.col("held.customer_id")).alias("customer_id"),
        "req",
        F.when(F.col("req").isNotNull(), F.col("req_order")).alias("req_order"),
        "held",
    )
    return events.unionByName(rest, allowMissingColumns=True)


def totals(rows: DataFrame) -> DataFrame:
    """The per-customer aggregation the state store keeps (see `inputs`)."""
    ev = F.col("ev")
    purchase = ev["event_type"] == "purchase"
    returned = ev["event_type"] == "return"
    held = F.col("held")
    return rows.groupBy("customer_id").agg(
        F.count(ev["event_id"]).alias("n_events"),
        F.count(F.col("req.customer_id")).alias("n_requests"),
        F.min(F.when(purchase, ev["event_time"])).alias("first_purchase_at"),
        F.max(F.when(purchase, ev["event_time"])).alias("last_purchase_at"),
        F.count(F.when(purchase, True)).alias("orders"),
        F.sum(F.when(purchase, ev["amount"])).alias("gross"),
        F.sum(F.when(returned, ev["amount"])).alias("returned"),
        F.sum(F.when(purchase, ev["item_count"])).alias("items"),
        F.max(ev["event_time"]).alias("last_event_at"),
        F.max(ev["produced_at"]).alias("produced_at"),
        F.max(F.col("req.as_of")).alias("req_as_of"),
        F.max_by(F.col("req.cause"), F.col("req_order")).alias("req_cause"),
        F.max_by(
            F.struct(
                held["n_inputs"].alias("n_inputs"),
                held["n_events"].alias("n_events"),
                held["segment_id"].alias("segment_id"),
                held["segment_name"].alias("segment_name"),
                held["as_of"].alias("as_of"),
            ),
            held["n_inputs"],
        ).alias("held"),
    )


def scored(state: DataFrame, model: SegmentModel | None) -> DataFrame:
    """The customers with something new since their held record, scored: the columns of
    `SCORES_SCHEMA` plus the held segment (`from_segment_id`, `from_segment_name`)."""
    money = TOTAL_MONEY
    zero = F.lit(0).cast(money)
    held = F.col("held")
    gross = F.coalesce(F.col("gross"), zero)
    returned = F.coalesce(F.col("returned"), zero)
    n_inputs = F.col("n_events") + F.col("n_requests")
    fresh = state.where(
        (F.col("n_events") > 0) & (n_inputs > F.coalesce(held["n_inputs"], F.lit(0)))
    ).select(
        "customer_id",
        n_inputs.alias("n_inputs"),
        "n_events",
        "first_purchase_at",
        "last_purchase_at",
        "orders",
        gross.cast(money).alias("gross_revenue"),
        returned.cast(money).alias("returns_amount"),
        (gross - returned).cast(money).alias("monetary"),
        F.coalesce(F.col("items"), F.lit(0)).cast("long").alias("items"),
        "last_event_at",
        "produced_at",
        F.greatest("req_as_of", held["as_of"], "last_event_at").alias("as_of"),
        F.when(F.col("n_events") > F.coalesce(held["n_events"], F.lit(0)), F.lit(PURCHASE))
        .otherwise(F.coalesce(F.col("req_cause"), F.lit(AGING)))
        .alias("cause"),
        held["segment_id"].alias("from_segment_id"),
        held["segment_name"].alias("from_segment_name"),
    )
    features = segments.feature_columns(F.col("as_of"))
    featured = fresh.select(
        *[c for c in fresh.columns if c != "monetary"],
        F.col("monetary").alias("monetary_amount"),
        *[features[name].alias(name) for name in ALL_FEATURES],
    )
    if model is None:
        with_segment = featured.select(
            "*",
            F.lit(None).cast("int").alias("segment_id"),
            F.lit(None).cast("string").alias("segment_name"),
            F.lit(None).cast("double").alias("distance"),
            F.lit(None).cast("long").alias("model_version"),
        )
    else:
        with_segment = segments.with_segments(featured, model).withColumn(
            "model_version", F.lit(model.version).cast("long")
        )
    changed = F.col("segment_id").isNotNull() & (
        F.col("from_segment_id").isNull() | (F.col("from_segment_id") != F.col("segment_id"))
    )
    return with_segment.withColumn("changed", changed)


def _iso(ts: Column) -> Column:
    return F.date_format(ts, "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")


def records(scores: DataFrame, settings: Settings, app_id: str) -> DataFrame:
    """Kafka records (`topic`, `key`, `value`) of `scored` rows: one `customer-scores`
    record each, and one `segment-changes` record for each change (see
    `segstream.contracts.segment_changes`)."""
    key = F.col("customer_id").cast("binary")
    score_value = F.struct(
        *[F.col(f.name).cast(f.dataType).alias(f.name) for f in SCORES_SCHEMA.fields]
    )
    change_cols = {
        "change_id": F.concat_ws("/", F.lit(app_id), "customer_id", "n_inputs"),
        "customer_id": F.col("customer_id"),
        "from_segment_id": F.col("from_segment_id"),
        "from_segment_name": F.col("from_segment_name"),
        "to_segment_id": F.col("segment_id"),
        "to_segment_name": F.col("segment_name"),
        "model_version": F.col("model_version"),
        "cause": F.col("cause"),
        "event_time": _iso(
            F.when(F.col("cause") == PURCHASE, F.col("last_event_at")).otherwise(F.col("as_of"))
        ),
        "as_of": _iso(F.col("as_of")),
        **{name: F.col(name) for name in ALL_FEATURES},
    }
    change_value = F.struct(
        *[change_cols[f.name].cast(f.dataType).alias(f.name) for f in SEGMENT_CHANGE_SCHEMA.fields]
    )

    def record(topic: str, value: Column) -> Column:
        return F.struct(
            F.lit(topic).alias("topic"),
            key.alias("key"),
            # Every field in every record, null where it has no value.
            F.to_json(value, {**JSON_OPTIONS, "ignoreNullFields": "false"})
            .cast("binary")
            .alias("value"),
        )

    both = F.array(
        record(settings.topic_customer_scores, score_value),
        F.when(F.col("changed"), record(settings.topic_segment_changes, change_value)),
    )
    return scores.select(F.explode(F.filter(both, lambda r: r.isNotNull())).alias("r")).select(
        "r.*"
    )


def start(
    spark: SparkSession,
    settings: Settings,
    model: SegmentModel | None,
    app_id: str,
    trigger: str,
) -> StreamingQuery:
    """Starts the query with `model` (None: totals only, no segments yet)."""
    checkpoint = settings.checkpoint_path(QUERY)
    raw = sources.kafka_topic(spark, settings, settings.topic_transactions)
    others = sources.kafka_topics(
        spark, settings, (settings.topic_segment_control, settings.topic_customer_scores)
    )
    out = records(scored(totals(inputs(raw, others, settings)), model), settings, app_id)
    writer = (
        out.writeStream.queryName(QUERY)
        .format("kafka")
        .options(**settings.spark_kafka_options())
        .option("checkpointLocation", str(checkpoint))
        .outputMode("update")
        .trigger(processingTime=trigger)
    )
    query: StreamingQuery = writer.start()
    return query
