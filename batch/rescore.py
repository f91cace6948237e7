"""`segstream rescore`: ask the stream to re-assign every customer at the data's current as-of.

Recency ages while nobody buys, so a customer's segment can change without a new event. The
stream is the one writer of segments, so this job writes none: it publishes an `aging`
re-score request per `customer_rfm` customer to `segment-control`, carrying the as-of (the
newest event time in the lake), and the stream scores each customer from its own state with
the model it runs, at the newest of that as-of and the customer's own. The changes reach the
feed and `segment_history` from there, with cause `aging`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from pyspark.sql import SparkSession

from segstream.config import Settings
from segstream.contracts.stream_records import AGING
from segstream.errors import SegstreamError
from segstream.lake import reads
from segstream.model import registry
from segstream.rescore_requests import publish_requests

log = logging.getLogger(__name__)


class NoModelError(SegstreamError):
    """There is no promoted model to score with."""


class AsOfTooLateError(SegstreamError):
    """The as-of asked for lies too far past the newest event time."""


@dataclass(frozen=True)
class RescoreResult:
    model_version: int
    as_of: datetime
    customers: int
    seconds: float


def run(spark: SparkSession, settings: Settings, as_of: datetime | None = None) -> RescoreResult:
    """Publishes the re-score requests; see the module docstring.

    Args:
        as_of: the time recency is measured at (default: newest event time in the data).

    Raises:
        NoModelError: no model is promoted (nothing would be scored).
        AsOfTooLateError: `as_of` lies more than `SEGSTREAM_AS_OF_MAX_AHEAD_H` past the
            newest event time: recency would be measured from a time the data has not
            reached, and a customer's as-of never goes back.
        segstream.lake.reads.MissingDataError: the lake has no customers yet.
    """
    started = time.monotonic()
    model = registry.current(spark, settings)
    if model is None:
        raise NoModelError("no promoted model: run `segstream retrain` first")
    rfm = reads.customer_rfm(spark, settings)
    newest = reads.data_as_of(rfm)
    if as_of is None:
        as_of = newest
    elif as_of > newest + timedelta(hours=settings.as_of_max_ahead_h):
        raise AsOfTooLateError(
            f"as-of {as_of.isoformat()} lies more than {settings.as_of_max_ahead_h:g} h past the "
            f"newest event time {newest.isoformat()}: a customer's as-of never goes back, so "
            "every segment would age from then on for good. Give an as-of up to "
            f"{(newest + timedelta(hours=settings.as_of_max_ahead_h)).isoformat()} or raise "
            "SEGSTREAM_AS_OF_MAX_AHEAD_H"
        )
    customers = publish_requests(rfm.select("customer_id"), settings, AGING, as_of, model.version)
    result = RescoreResult(model.version, as_of, customers, time.monotonic() - started)
    log.info(
        "asked the stream to re-score %d customers (model v%d) as of %s, %.1f s",
        customers,
        model.version,
        as_of.isoformat(),
        result.seconds,
    )
    return result
