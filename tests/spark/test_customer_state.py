"""The customer state's aggregation and scoring on static frames of Kafka rows (the same plan
the stream runs per micro-batch): exact totals with a duplicate event and a rejected message
not counted, nothing emitted without new input, the held segment decides what is a change,
the cause, and an as-of that never goes back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from segstream.contracts.events import Event, Item, dumps
from segstream.contracts.stream_records import AGING, PURCHASE, RETRAIN
from segstream.model.features import pandas_features
from segstream.model.record import SegmentModel
from segstream.model.scoring import score_numpy
from segstream.testing import KAFKA_SCHEMA
from streaming import customer_state
from tests.conftest import make_settings

pytestmark = pytest.mark.spark

T0 = datetime(2024, 6, 1, tzinfo=UTC)
MODEL = SegmentModel(
    version=3,
    trained_at=T0,
    as_of=T0,
    rows=10,
    features=("recency_days", "frequency", "monetary"),
    transforms=("identity", "log1p", "log1p"),
    mean=(30.0, 1.0, 4.0),
    std=(30.0, 1.0, 1.0),
    centroids=((-0.8, 1.0, 1.0), (1.5, -0.8, -0.8)),
    segment_ids=(1, 2),
    segment_names=("Champions", "At Risk"),
    engine="sklearn",
)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _event(eid: str, cid: str, kind: str, days: float, amount: str) -> Event:
    items = (Item("sku-1", "books", 2, Decimal(amount)),) if kind == "purchase" else ()
    t = T0 + timedelta(days=days)
    return Event(eid, kind, cid, f"o-{eid}", t, Decimal(amount), items)  # type: ignore[arg-type]


def _held(
    cid: str, n_inputs: int, n_events: int, segment: int, as_of_days: float, model: int = 3
) -> dict:
    return {
        "customer_id": cid,
        "n_inputs": n_inputs,
        "n_events": n_events,
        "orders": 0,
        "gross_revenue": 0,
        "returns_amount": 0,
        "monetary_amount": 0,
        "items": 0,
        "as_of": _iso(T0 + timedelta(days=as_of_days)),
        "segment_id": segment,
        "segment_name": MODEL.segment_names[MODEL.segment_ids.index(segment)],
        "model_version": model,
        "cause": PURCHASE,
        "changed": True,
    }


def test_totals_changes_causes_and_as_of(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, topic_transactions="tx")
    events = [
        # a: two purchases and a return, new (nothing held)
        _event("e1", "a", "purchase", 1, "10.10"),
        _event("e2", "a", "purchase", 2, "99.99"),
        _event("e3", "a", "return", 3, "5.05"),
        # b: held after its first event (segment 1); one more event now
        _event("e4", "b", "purchase", 0, "20.00"),
        _event("e5", "b", "purchase", 40, "1.00"),
        # c: held after its one event, scored by model 2; an aging request at a later as-of
        # and a retrain request, no event
        _event("e6", "c", "purchase", 0, "500.00"),
        # d: held with everything it has: nothing new, nothing out
        _event("e7", "d", "purchase", 5, "3.00"),
        # e: held after its one event, scored by this model; an aging request, no event
        _event("e8", "e", "purchase", 0, "80.00"),
    ]
    held = [
        _held("b", 1, 1, 1, 1),
        _held("c", 1, 1, 1, 0.5, model=2),
        _held("d", 1, 1, 2, 5),
        _held("e", 1, 1, 1, 0),
    ]
    requests = [
        {"customer_id": "c", "cause": AGING, "as_of": _iso(T0 + timedelta(days=120))},
        {"customer_id": "c", "cause": RETRAIN, "as_of": None, "model_version": 3},
        {"customer_id": "e", "cause": AGING, "as_of": _iso(T0 + timedelta(days=90))},
    ]
    # e2 again (a duplicate event id), and a message the contract rejects: neither counts.
    bad = dumps({**events[0].to_dict(events[0].event_time), "event_id": "e0", "amount": -1})
    messages = [(e.key(), e.encode(e.event_time)) for e in [*events, events[1]]] + [(b"a", bad)]
    arrived = [*[e.event_time for e in events], events[1].event_time, T0]
    control = [(settings.topic_customer_scores, h) for h in held] + [
        (settings.topic_segment_control, r) for r in requests
    ]
    raw = spark.createDataFrame(
        [
            (key, value, settings.topic_transactions, 0, i, at, 0)
            for i, ((key, value), at) in enumerate(zip(messages, arrived, strict=True))
        ],
        KAFKA_SCHEMA,
    )
    # Rejected, so counted nowhere: a held record and a request that are not records of their
    # topic, and a request to score at an as-of far past the time the broker took it.
    control += [
        (settings.topic_customer_scores, {"customer_id": "d", "n_inputs": "many"}),
        (settings.topic_segment_control, {"cause": AGING}),
        (
            settings.topic_segment_control,
            {"customer_id": "d", "cause": AGING, "as_of": _iso(T0 + timedelta(days=900))},
        ),
    ]
    others = spark.createDataFrame(
        [
            # Taken by the broker after every event, as a re-score request is.
            (None, json.dumps(v).encode(), topic, 0, i, T0 + timedelta(days=200, seconds=i), 0)
            for i, (topic, v) in enumerate(control)
        ],
        KAFKA_SCHEMA,
    )
    requests = others.where(others.topic == settings.topic_segment_control)
    held_records = others.where(others.topic == settings.topic_customer_scores)
    state = customer_state.totals(customer_state.inputs(raw, requests, held_records, settings))
    got = customer_state.scored(state, MODEL).toPandas().set_index("customer_id").sort_index()

    assert list(got.index) == ["a", "b", "c", "e"]  # d: nothing new
    a = got.loc["a"]
    assert (a["n_inputs"], a["n_events"], a["orders"], a["items"]) == (3, 3, 2, 4)
    assert (a["gross_revenue"], a["returns_amount"], a["monetary_amount"]) == (
        Decimal("110.09"),
        Decimal("5.05"),
        Decimal("105.04"),
    )
    assert got["n_inputs"].to_dict() == {"a": 3, "b": 2, "c": 3, "e": 2}
    # c's segment came from another model, e's from this one: only time moved e.
    assert got["cause"].to_dict() == {"a": PURCHASE, "b": PURCHASE, "c": RETRAIN, "e": AGING}
    day = pd.Timestamp(T0).tz_localize(None)
    assert got["as_of"].to_dict() == {
        "a": day + pd.Timedelta(days=3),
        "b": day + pd.Timedelta(days=40),
        "c": day + pd.Timedelta(days=120),
        "e": day + pd.Timedelta(days=90),
    }
    # Scored with NumPy at each customer's as-of from the same totals.
    rfm = got.assign(monetary=got["monetary_amount"].astype(float))
    for cid, row in rfm.iterrows():
        x = pandas_features(rfm.loc[[cid]], row["as_of"])[list(MODEL.features)].to_numpy()
        assert got.loc[cid, "segment_id"] == int(score_numpy(MODEL, x).segment_id[0]), cid
        assert np.isclose(got.loc[cid, "recency_days"], x[0, 0]), cid
    assert pd.isna(got.loc["a", "from_segment_id"]) and bool(got.loc["a", "changed"])
    for cid in ("b", "c", "e"):
        assert got.loc[cid, "from_segment_id"] == 1
        assert bool(got.loc[cid, "changed"]) == (got.loc[cid, "segment_id"] != 1)
    assert set(got["model_version"]) == {3}

    records = customer_state.records(customer_state.scored(state, MODEL), settings, "app").collect()
    changes = [
        json.loads(bytes(r.value)) for r in records if r.topic == settings.topic_segment_changes
    ]
    assert sorted(c["change_id"] for c in changes) == sorted(
        f"app/{cid}/{got.loc[cid, 'n_inputs']}" for cid in got.index if got.loc[cid, "changed"]
    )
    assert sum(r.topic == settings.topic_customer_scores for r in records) == 4
