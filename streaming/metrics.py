"""Per-batch stream metrics: what each micro-batch saw, how long it took, how late it was.

The batch body records its own counts; the query's progress (known only after the batch
ends) adds the rows read from Kafka, so duplicates dropped = rows read - rows processed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql.streaming.listener import StreamingQueryProgress

from segstream.contracts.tables import STREAM_METRICS_SCHEMA
from segstream.lake import writes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchStats:
    batch_id: int
    started_at: datetime
    processed_rows: int
    valid_rows: int
    customers_touched: int
    customers_rescored: int
    segment_changes: int
    model_version: int | None
    batch_duration_s: float
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_max_s: float | None


class MetricsRecorder:
    """Joins batch stats with query progress and appends them to `stream_metrics`."""

    def __init__(self, query_name: str, path: Path, app_id: str, inputs: Mapping[str, str]) -> None:
        """`inputs`: the names recorded under which count the messages of one topic (name ->
        topic): their input is the rows the query read of it, and what it read but did not
        process are the duplicates it dropped. Other names count every row read, and their
        duplicates are unknown (null)."""
        self._inputs = inputs
        self._query = query_name
        self._path = path
        self._app_id = app_id
        self._pending: dict[int, list[tuple[str, BatchStats]]] = {}
        # `record` runs on the batch thread, `flush` on the thread that watches the query.
        self._lock = threading.Lock()

    def record(self, stats: BatchStats, query: str | None = None) -> None:
        """Keeps `stats` of one of the query's batches, as `query` (default: the query's
        name) until `flush`; a replayed batch's stats replace those of its first attempt."""
        name = query or self._query
        with self._lock:
            kept = [(q, st) for q, st in self._pending.get(stats.batch_id, []) if q != name]
            self._pending[stats.batch_id] = [*kept, (name, stats)]
        rate = stats.processed_rows / stats.batch_duration_s if stats.batch_duration_s else 0.0
        p50 = f"{stats.latency_p50_s:.2f}" if stats.latency_p50_s is not None else "-"
        p95 = f"{stats.latency_p95_s:.2f}" if stats.latency_p95_s is not None else "-"
        log.info(
            "%s batch %d: %d rows (%d valid, %d quarantined), %d customers, %d rescored, "
            "%d segment changes, %.2f s, %.0f rows/s, latency p50 %s s p95 %s s",
            name,
            stats.batch_id,
            stats.processed_rows,
            stats.valid_rows,
            stats.processed_rows - stats.valid_rows,
            stats.customers_touched,
            stats.customers_rescored,
            stats.segment_changes,
            stats.batch_duration_s,
            rate,
            p50,
            p95,
        )

    def flush(self, spark: SparkSession, progress: Sequence[StreamingQueryProgress]) -> None:
        read = {int(p.batchId): p for p in progress}
        with self._lock:
            ready = sorted(b for b in self._pending if b in read)
            taken = [(b, self._pending.pop(b)) for b in ready]
        if not ready:
            return
        rows = []
        for batch_id, entries in taken:
            for query, s in entries:
                topic = self._inputs.get(query)
                rows_read = _rows_read(read[batch_id], topic)
                rows.append(
                    {
                        **asdict(s),
                        "query": query,
                        "input_rows": rows_read,
                        "quarantined_rows": s.processed_rows - s.valid_rows,
                        "duplicates_dropped": None
                        if topic is None
                        else rows_read - s.processed_rows,
                        "rows_per_s": s.processed_rows / s.batch_duration_s
                        if s.batch_duration_s
                        else 0.0,
                    }
                )
        frame = spark.createDataFrame(
            [tuple(r[f.name] for f in STREAM_METRICS_SCHEMA.fields) for r in rows],
            STREAM_METRICS_SCHEMA,
        )
        writes.append(frame, self._path, writes.Txn(self._app_id, ready[-1]))


def _rows_read(progress: StreamingQueryProgress, topic: str | None) -> int:
    """The rows a batch read: of the sources that read only `topic`, or of all (None)."""
    if topic is None:
        return int(progress.numInputRows)
    return sum(
        int(source.numInputRows)
        for source in progress.sources
        if set(json.loads(source.endOffset or "{}")) == {topic}
    )
