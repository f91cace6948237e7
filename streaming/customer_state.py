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

The held record of a customer is the record the previous batch that scored it published: it
is read back in the very next batch, whatever else is queued, because the query reads its own
topic unbounded (`maxOffsetsPerTrigger` bounds only `transactions` and `segment-control`). A
change is therefore always measured against the segment the customer holds.

A customer's as-of is the newest of its own event times, its requests' as-ofs and its held
record's: it never goes back, and it depends on nothing but the customer's own inputs, so a
replayed batch measures it again exactly. The model is decided per batch, when the batch
starts (`ScoringBatch`, `streaming.model_log`): a promotion takes effect at the next batch
without stopping the query, and a batch replayed after a crash scores with the model of its
first attempt.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.streaming.query import StreamingQuery

from segstream.config import Settings
from segstream.contracts.events import TOTAL_MONEY
from segstream.contracts.segment_changes import SEGMENT_CHANGE_SCHEMA
from segstream.contracts.stream_records import (
    AGING,
    JSON_OPTIONS,
    PURCHASE,
    RETRAIN,
    SCORES_SCHEMA,
    STATE_QUERY,
)
from segstream.errors import SegstreamError
from segstream.model import segments
from segstream.model.features import ALL_FEATURES
from segstream.model.record import SegmentModel
from segstream.publishing import publish
from streaming import sources, transforms
from streaming.model_log import ModelLog

QUERY = STATE_QUERY
# What `totals` reads of an event.
_EVENT_FIELDS = ("event_id", "event_type", "event_time", "amount", "item_count", "produced_at")
# What `totals` reads of a held record. The query reads back every record it publishes, and
# parsing only these fields costs ~40 % less than the whole record (no decimals, one
# timestamp; from_json here: 3.2 against 5.5 us per record).
_HELD_SCHEMA = T.StructType(
    [
        SCORES_SCHEMA[name]
        for name in (
            "customer_id",
            "n_inputs",
            "n_events",
            "segment_id",
            "segment_name",
            "model_version",
            "as_of",
        )
    ]
)


def inputs(raw: DataFrame, control: DataFrame, held: DataFrame, settings: Settings) -> DataFrame:
    """Kafka rows of `transactions`, `segment-control` and `customer-scores` -> one row per
    event, request or held record: `customer_id`, `ev` (event), `req` (request), `held`.

    Only valid events count (the lake quarantines the rest, judged by the same
    `transforms.parse`), each once: a duplicate event id is dropped, in the state store.
    Likewise only valid requests and held records (`transforms.stream_records`; the lake
    part quarantines the rejected ones).
    """
    events = (
        transforms.events(transforms.parse(raw))
        .select("customer_id", "event_id", F.struct(*_EVENT_FIELDS).alias("ev"))
        .dropDuplicates(["event_id"])
        .drop("event_id")
    )
    requests = transforms.control_records(control, settings.as_of_max_ahead_h).where(
        F.col("rec").isNotNull()
    )
    requests = requests.select(
        F.col("rec.customer_id").alias("customer_id"), F.col("rec").alias("req")
    )
    records = transforms.stream_records(held, _HELD_SCHEMA).where(F.col("rec").isNotNull())
    records = records.select(
        F.col("rec.customer_id").alias("customer_id"), F.col("rec").alias("held")
    )
    return events.unionByName(requests, allowMissingColumns=True).unionByName(
        records, allowMissingColumns=True
    )


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
        F.max_by(
            F.struct(
                held["n_inputs"].alias("n_inputs"),
                held["n_events"].alias("n_events"),
                held["segment_id"].alias("segment_id"),
                held["segment_name"].alias("segment_name"),
                held["model_version"].alias("model_version"),
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
    version = -1 if model is None else model.version
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
        # What moved the customer: its own events, else a model other than the one its held
        # segment came from, else time (a newer as-of).
        F.when(F.col("n_events") > F.coalesce(held["n_events"], F.lit(0)), F.lit(PURCHASE))
        .when(F.coalesce(held["model_version"], F.lit(-1)) != F.lit(version), F.lit(RETRAIN))
        .otherwise(F.lit(AGING))
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


class EarlierCheckpoint(SegstreamError):
    """The `customer-state` checkpoint was written by an earlier layout of the query."""


def check_layout(settings: Settings) -> None:
    """Refuses a checkpoint of the query's earlier layout, before Spark fails on it.

    That layout read `segment-control` and `customer-scores` as one source (two offset lines
    where there are three now) and held no model version with the segment, so its state
    cannot be carried over: the stream is derived again from the topics instead.

    Raises:
        EarlierCheckpoint: naming the checkpoint and the command that rebuilds the stream.
    """
    checkpoint = settings.checkpoint_path(QUERY)
    offsets = checkpoint / "offsets"
    planned = sorted((p for p in offsets.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
    # "v1", the batch's metadata, then one line per source.
    if planned and len(planned[-1].read_text().splitlines()) == 4:
        raise EarlierCheckpoint(
            f"the checkpoint of the stream's `{QUERY}` query at {checkpoint} was written by an "
            "earlier version of the stream, whose customer state cannot be carried over. Stop "
            "the stream and derive it again from the topics: `segstream stream --rebuild` "
            '(README.md, "Rebuilding the stream")'
        )


class ScoringBatch:
    """The body of each `customer-state` batch: decides the batch's model (`ModelLog`),
    scores the customers with something new and publishes their records, in one Spark job.

    Delivery: at least once; a replayed batch republishes identical records (same state,
    input and model), deduped downstream by their keys (`segstream.contracts`).
    """

    def __init__(
        self,
        settings: Settings,
        app_id: str,
        models: ModelLog,
        promoted: Callable[[], SegmentModel | None],
        model_version: Callable[[int], SegmentModel],
    ) -> None:
        self._settings = settings
        self._app_id = app_id
        self._models = models
        self._promoted = promoted
        self._model_version = model_version

    def _promoted_version(self) -> int | None:
        model = self._promoted()
        return None if model is None else model.version

    def __call__(self, state: DataFrame, batch_id: int) -> None:
        version = self._models.for_batch(batch_id, self._promoted_version)
        model = None if version is None else self._model_version(version)
        publish(records(scored(state, model), self._settings, self._app_id), self._settings, None)


def start(
    spark: SparkSession, settings: Settings, batch: ScoringBatch, trigger: str
) -> StreamingQuery:
    """Starts the query; each batch runs `batch`."""
    checkpoint = settings.checkpoint_path(QUERY)
    raw = sources.kafka_topic(spark, settings, settings.topic_transactions)
    control = sources.kafka_topic(spark, settings, settings.topic_segment_control)
    held = sources.kafka_topic(spark, settings, settings.topic_customer_scores, bounded=False)
    writer = (
        totals(inputs(raw, control, held, settings))
        .writeStream.queryName(QUERY)
        .option("checkpointLocation", str(checkpoint))
        .outputMode("update")
        .foreachBatch(batch)
        .trigger(processingTime=trigger)
    )
    query: StreamingQuery = writer.start()
    return query
