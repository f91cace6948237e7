"""Rebuilding what the stream derives, from the topics it reads.

After a lost checkpoint (see `streaming.queries.app_id`) the stream's tables and its own
topics are removed and written again from `transactions`, `customers` and `segment-control`,
which a rebuild only reads. It refuses when `transactions` no longer holds every message
(retention or a deletion), since the rebuilt lake would then lack them.
"""

from __future__ import annotations

import logging
import shutil

from segstream.config import Settings
from segstream.contracts import tables
from segstream.errors import SegstreamError
from segstream.runtime import topics
from streaming import control_quarantine, customer_state, customer_tables, customers, lake_writer
from streaming.queries import APP_ID_FILE

log = logging.getLogger(__name__)

QUERIES = (
    customer_state.QUERY,
    lake_writer.QUERY,
    customer_tables.QUERY,
    customers.QUERY,
    control_quarantine.QUERY,
)
TABLES = tuple(dict.fromkeys((*lake_writer.TABLES, *customer_tables.TABLES, tables.CUSTOMERS)))


class RebuildRefused(SegstreamError):
    """A rebuild would lose data."""


def remove_derived(settings: Settings) -> None:
    """Removes the stream's checkpoints, its tables and the records of its own topics
    (`customer-scores`, `segment-changes`), so that its next start derives them again.

    Raises:
        RebuildRefused: `transactions` no longer starts at offset 0 in every partition.
    """
    firsts = topics.first_offsets(settings, settings.topic_transactions)
    lost = {p: o for p, o in sorted(firsts.items()) if o > 0}
    if lost:
        where = ", ".join(f"partition {p} from offset {o}" for p, o in lost.items())
        raise RebuildRefused(
            f"{settings.topic_transactions} no longer holds every message ({where}): a "
            "rebuild would lose the events before those offsets. Restore the stream's "
            f"checkpoints ({settings.checkpoint_path('')}) instead."
        )
    derived = (settings.topic_customer_scores, settings.topic_segment_changes)
    # Each checkpoint's id goes first and the lake's copies last: a start after a crash in
    # between is refused (`streaming.queries.app_id`), and the rebuild can be run again.
    for query in QUERIES:
        (settings.checkpoint_path(query) / APP_ID_FILE).unlink(missing_ok=True)
    topics.recreate_topics(settings, derived)
    for table in TABLES:
        shutil.rmtree(settings.table_path(table), ignore_errors=True)
    for query in QUERIES:
        shutil.rmtree(settings.checkpoint_path(query), ignore_errors=True)
    for query in QUERIES:
        settings.stream_id_path(query).unlink(missing_ok=True)
    log.info(
        "rebuild: removed the checkpoints of %s, the tables %s and the records of %s",
        ", ".join(QUERIES),
        ", ".join(TABLES),
        ", ".join(derived),
    )
