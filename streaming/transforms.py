"""Pure DataFrame -> DataFrame steps of the stream: parse, validate, project, aggregate."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segstream.contracts import quarantine as Q
from segstream.contracts.events import (
    EVENT_SCHEMA,
    EVENT_TYPES,
    ID_FIELDS,
    MAX_AMOUNT,
    MAX_FUTURE,
    MAX_ID_LENGTH,
    MAX_ITEMS,
    MAX_MESSAGE_BYTES,
    MAX_QUANTITY,
    MIN_EVENT_TIME,
    MONEY,
    OPTIONAL_STRING_FIELDS,
    REQUIRED_FIELDS,
)
from segstream.contracts.stream_records import CONTROL_SCHEMA, JSON_OPTIONS
from segstream.contracts.tables import EVENTS_SCHEMA

# An `events` row without what the lake adds when it writes one.
EVENT_COLUMNS = T.StructType(
    [f for f in EVENTS_SCHEMA.fields if f.name not in ("event_date", "batch_id", "ingested_at")]
)

# A JSON number with at most two decimals, as the contract requires of money.
_MONEY_TEXT = r"^-?[0-9]+(\.[0-9]{1,2})?$"
# The JSON types of a number, as `schema_of_variant` names them.
_NUMBER_KINDS = ("BIGINT", "INT", "SMALLINT", "TINYINT", "DECIMAL", "DOUBLE", "FLOAT")
# The fields whose JSON type a rule checks.
_TYPED_FIELDS = (*REQUIRED_FIELDS, *OPTIONAL_STRING_FIELDS, "items")


def _first_broken(rules: list[tuple[Column, str, Column]]) -> Column:
    """The first failing rule as a struct (reason, detail); null when every rule passes.

    One CASE WHEN of structs rather than one chain for the reason and another for the
    detail: Spark would evaluate the conditions of both chains.
    """

    def verdict(code: str, text: Column) -> Column:
        return F.struct(F.lit(code).alias("reason"), text.alias("detail"))

    (failed, code, text), rest = rules[0], rules[1:]
    chain = F.when(failed, verdict(code, text))
    for failed, code, text in rest:
        chain = chain.when(failed, verdict(code, text))
    return chain


def raw_message() -> list[Column]:
    """A Kafka row's bytes and coordinates, named as the quarantine keeps them."""
    return [
        F.col("key").alias("raw_key"),
        F.col("value").alias("raw_value"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
    ]


def parse(raw: DataFrame) -> DataFrame:
    """Parses Kafka rows (key, value, topic, partition, offset, timestamp) of `transactions`.

    Every input row comes out once, with the event's fields and `reason`/`detail`, which are
    null for a valid event and name the first broken rule otherwise.
    """
    text = F.col("value").cast("string")
    e = F.col("e")
    # The parsed document, each field's JSON type and the amount's text are columns of
    # their own: inlined, Spark would compute them again for every rule that looks at them
    # (common subexpressions are not shared across the branches of a CASE WHEN).
    doc = F.col("doc")

    def kind(field: str) -> Column:
        # The JSON type of a field as written ("STRING", "BIGINT", "DECIMAL(4,2)", "VOID"
        # for null, null when absent): from_json alone would quietly coerce 1 to "1".
        return F.col("kinds")[field]

    def kind_is(field: str, *names: str) -> Column:
        # By name without its parameters ("DECIMAL(4,2)", "ARRAY<BIGINT>"), not by regular
        # expression: this runs for every field of every message.
        name = F.substring_index(F.substring_index(kind(field), "(", 1), "<", 1)
        return name.isin(*names)

    rules: list[tuple[Column, str, Column]] = [
        (F.col("value").isNull() | (F.length("value") == 0), Q.EMPTY_MESSAGE, F.lit("no value")),
        (
            F.length("value") > MAX_MESSAGE_BYTES,
            Q.OVERSIZED,
            F.format_string(f"%d bytes > {MAX_MESSAGE_BYTES}", F.length("value")),
        ),
        (~F.is_valid_utf8(text), Q.NOT_UTF8, F.lit("value is not valid UTF-8")),
        (
            F.coalesce(~F.schema_of_variant(doc).startswith("OBJECT"), F.lit(True)),
            Q.INVALID_JSON,
            F.lit("value is not a JSON object"),
        ),
    ]
    for field in REQUIRED_FIELDS:
        rules.append(
            (
                F.coalesce(kind(field), F.lit("VOID")) == "VOID",
                Q.MISSING_FIELD,
                F.lit(f"missing {field}"),
            )
        )
        expected, named = (
            (_NUMBER_KINDS, "a number") if field == "amount" else (("STRING",), "a string")
        )
        # An amount too large for decimal(18,2) parses to null: the amount rule names it.
        unparsed = F.lit(False) if field == "amount" else e[field].isNull()
        rules.append(
            (
                ~kind_is(field, *expected) | unparsed,
                Q.INVALID_TYPE,
                F.concat(F.lit(f"{field} must be {named}, got "), kind(field)),
            )
        )
    for field in OPTIONAL_STRING_FIELDS:
        rules.append(
            (
                ~F.coalesce(kind_is(field, "STRING", "VOID"), F.lit(True)),
                Q.INVALID_TYPE,
                F.concat(F.lit(f"{field} must be a string, got "), kind(field)),
            )
        )
    rules.append(
        (
            ~F.coalesce(kind_is("items", "ARRAY", "VOID"), F.lit(True)),
            Q.INVALID_TYPE,
            F.concat(F.lit("items must be an array, got "), kind("items")),
        )
    )
    event_time = F.try_to_timestamp(e["event_time"])
    # The number exactly as written: get_json_object would pass it through a double
    # (9999999999999999.99 becomes 1.0E16).
    amount_text = F.col("amount_text")
    amount = amount_text.try_cast(T.DecimalType(38, 2))
    items = F.coalesce(e["items"], F.array())
    rules += [
        (
            ~e["event_type"].isin(*EVENT_TYPES),
            Q.INVALID_EVENT_TYPE,
            F.concat(F.lit("unknown event_type "), e["event_type"]),
        ),
        (F.trim(e["customer_id"]) == "", Q.EMPTY_CUSTOMER_ID, F.lit("customer_id is empty")),
        (F.trim(e["event_id"]) == "", Q.MISSING_FIELD, F.lit("event_id is empty")),
        (F.trim(e["order_id"]) == "", Q.MISSING_FIELD, F.lit("order_id is empty")),
        *[
            (
                F.length(e[name]) > MAX_ID_LENGTH,
                Q.ID_TOO_LONG,
                F.format_string(
                    f"{name} has %d characters, at most {MAX_ID_LENGTH}", F.length(e[name])
                ),
            )
            for name in ID_FIELDS
        ],
        (
            F.coalesce((amount < 0) | (amount > MAX_AMOUNT), F.lit(True))
            | ~amount_text.rlike(_MONEY_TEXT),
            Q.INVALID_AMOUNT,
            F.concat(
                F.lit(f"amount must be 0 to {MAX_AMOUNT} with at most two decimals, got "),
                amount_text,
            ),
        ),
        (
            F.exists(items, lambda i: i["quantity"].isNull() | (i["quantity"] <= 0)),
            Q.INVALID_ITEM,
            F.lit("item quantity must be an integer > 0"),
        ),
        (
            F.exists(items, lambda i: i["quantity"] > MAX_QUANTITY),
            Q.INVALID_ITEM,
            F.lit(f"item quantity must be at most {MAX_QUANTITY}"),
        ),
        (
            F.exists(
                items,
                lambda i: (
                    i["unit_price"].isNull()
                    | (i["unit_price"] < 0)
                    | (i["unit_price"] > MAX_AMOUNT)
                ),
            ),
            Q.INVALID_ITEM,
            F.lit(f"item unit_price must be a number from 0 to {MAX_AMOUNT}"),
        ),
        (
            F.size(items) > MAX_ITEMS,
            Q.INVALID_ITEM,
            F.format_string(f"%d items, at most {MAX_ITEMS}", F.size(items)),
        ),
        (
            event_time.isNull(),
            Q.INVALID_EVENT_TIME,
            F.concat(F.lit("event_time is not ISO-8601: "), e["event_time"]),
        ),
        (
            event_time < F.lit(MIN_EVENT_TIME),
            Q.OLD_EVENT_TIME,
            F.concat(F.lit(f"event_time before {MIN_EVENT_TIME.date()}: "), e["event_time"]),
        ),
        (
            # Against the time the broker took the message, not the clock of whoever reads
            # it: every query (and every replay) then judges a message alike.
            event_time
            > F.col("timestamp") + F.expr(f"INTERVAL {int(MAX_FUTURE.total_seconds())} SECONDS"),
            Q.FUTURE_EVENT_TIME,
            F.concat(F.lit("event_time too far in the future: "), e["event_time"]),
        ),
    ]
    return (
        raw.withColumn("e", F.from_json(text, EVENT_SCHEMA))
        .withColumn("doc", F.try_parse_json(text))
        .withColumns(
            {
                "kinds": F.struct(
                    *[
                        F.schema_of_variant(F.try_variant_get(doc, f"$.{f}", "variant")).alias(f)
                        for f in _TYPED_FIELDS
                    ]
                ),
                "amount_text": F.try_variant_get(doc, "$.amount", "string"),
            }
        )
        .withColumn("broken", _first_broken(rules))
        .select(
            *raw_message(),
            "e",
            event_time.alias("event_ts"),
            F.col("broken.reason").alias("reason"),
            F.col("broken.detail").alias("detail"),
        )
    )


def dedupe_key(parsed: DataFrame) -> DataFrame:
    """Adds the key the stream deduplicates on: the event id of a valid event, and the
    message's unique Kafka coordinates for a quarantined one (so none is ever dropped)."""
    coords = F.concat_ws(":", "kafka_topic", "kafka_partition", "kafka_offset")
    return parsed.withColumn(
        "dedupe_key",
        F.when(F.col("reason").isNull(), F.concat(F.lit("e:"), F.col("e.event_id"))).otherwise(
            F.concat(F.lit("q:"), coords)
        ),
    )


def stream_records(
    raw: DataFrame, schema: T.StructType, rules: list[tuple[Column, str, Column]] | None = None
) -> DataFrame:
    """Kafka rows of one of the stream's own topics -> the message's bytes and coordinates
    (`raw_message`), `rec` (the record parsed with its contract's `schema`; null when
    rejected), `reason` and `detail` (null when valid).

    A record is rejected as `malformed_record` when it does not parse or a field its
    contract requires is missing or not of its type; then by the first of `rules`
    (condition over `rec`, reason, detail) that holds. Judged on the message alone, so every
    reader that parses with the same schema (and every replay) judges a record alike.
    """
    text = F.col("value").cast("string")
    rec = F.col("rec")
    missing = [F.when(rec[f.name].isNull(), F.lit(f.name)) for f in schema.fields if not f.nullable]
    incomplete = F.coalesce(*missing).isNotNull() if missing else F.lit(False)
    checks = [
        (
            rec.isNull() | incomplete,
            Q.MALFORMED_RECORD,
            F.concat(
                F.lit("not a record of its topic; missing or mistyped: "),
                F.coalesce(F.nullif(F.concat_ws(", ", *missing), F.lit("")), F.lit("all")),
            ),
        ),
        *(rules or []),
    ]
    return (
        raw.withColumn("rec", F.from_json(text, schema, JSON_OPTIONS))
        .withColumn("broken", _first_broken(checks))
        .select(
            *raw_message(),
            F.when(F.col("broken").isNull(), rec).alias("rec"),
            F.col("broken.reason").alias("reason"),
            F.col("broken.detail").alias("detail"),
        )
    )


def rejected() -> Column:
    """Over `stream_records` rows: the quarantine row of a rejected record (without the
    batch's columns), null for a valid one; it travels beside the record in one column."""
    fields = [
        f for f in Q.QUARANTINE_SCHEMA.fieldNames() if f not in ("batch_id", "quarantined_at")
    ]
    return F.when(F.col("reason").isNotNull(), F.struct(*fields))


def quarantined_records(rows: DataFrame, column: str, batch_id: int) -> DataFrame:
    """The `rejected()` rows carried in `column`, shaped as the `quarantine` table."""
    return rows.where(F.col(column).isNotNull()).select(
        f"{column}.*",
        F.lit(batch_id).cast("long").alias("batch_id"),
        F.current_timestamp().alias("quarantined_at"),
    )


def control_records(raw: DataFrame, max_ahead_h: float) -> DataFrame:
    """`stream_records` of `segment-control`: also rejects (`future_as_of`) a request whose
    as-of lies more than `max_ahead_h` hours past the time the broker took it."""
    as_of = F.col("rec.as_of")
    ahead = F.col("timestamp") + F.expr(f"INTERVAL {int(max_ahead_h * 3600)} SECONDS")
    rule = (
        as_of.isNotNull() & (as_of > ahead),
        Q.FUTURE_AS_OF,
        F.concat(
            F.lit(f"as_of more than {max_ahead_h:g} h past the request: "), as_of.cast("string")
        ),
    )
    return stream_records(raw, CONTROL_SCHEMA, [rule])


def produced_at() -> Column:
    """A parsed message's `produced_at` as a timestamp (null when missing or not ISO-8601)."""
    return F.try_to_timestamp(F.col("e")["produced_at"])


def events(parsed: DataFrame) -> DataFrame:
    """The valid rows of `parse`, shaped as the `events` table without what the lake adds
    when it writes one (`EVENT_COLUMNS`)."""
    e = F.col("e")
    item_count = F.coalesce(
        F.aggregate(e["items"], F.lit(0).cast("long"), lambda acc, i: acc + i["quantity"]),
        F.lit(0).cast("long"),
    )
    cols = {
        "event_id": e["event_id"],
        "event_type": e["event_type"],
        "customer_id": e["customer_id"],
        "order_id": e["order_id"],
        "event_time": F.col("event_ts"),
        "amount": e["amount"].cast(MONEY),
        "items": e["items"],
        "item_count": item_count,
        "currency": F.coalesce(e["currency"], F.lit("USD")),
        "channel": e["channel"],
        "country": e["country"],
        "produced_at": produced_at(),
        "kafka_topic": F.col("kafka_topic"),
        "kafka_partition": F.col("kafka_partition"),
        "kafka_offset": F.col("kafka_offset"),
    }
    return parsed.where(F.col("reason").isNull()).select(
        *[cols[f.name].cast(f.dataType).alias(f.name) for f in EVENT_COLUMNS.fields]
    )


def quarantined(parsed: DataFrame, batch_id: int) -> DataFrame:
    """The invalid rows, shaped as the `quarantine` table (raw bytes kept as they came)."""
    return parsed.where(F.col("reason").isNotNull()).select(
        "reason",
        "detail",
        "raw_key",
        "raw_value",
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
        F.lit(batch_id).cast("long").alias("batch_id"),
        F.current_timestamp().alias("quarantined_at"),
    )
