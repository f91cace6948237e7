"""Reading the lake's Delta tables as pandas frames, without a JVM.

delta-rs reads through DataFusion (`QueryBuilder`), which applies the deletion vectors that
Spark's UPDATE and DELETE leave behind; its PyArrow dataset path refuses such tables. A
table that does not exist yet reads as an empty frame with the contract's columns, so every
page can say "no data yet" instead of failing.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
from deltalake import DeltaTable, QueryBuilder
from deltalake.exceptions import TableNotFoundError

from segstream.config import Settings
from segstream.contracts.stream_records import STATE_QUERY

# Importing the catalogue loads PySpark's type classes only; no JVM starts.
from segstream.contracts.tables import table as catalogue_entry


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read(
    settings: Settings,
    name: str,
    columns: Sequence[str] | None = None,
    where: str | None = None,
) -> pd.DataFrame:
    """The table's current rows (only `columns`, if given), or an empty frame if it is missing.

    Args:
        settings: where the lake is.
        name: a table of the catalogue (`segstream.contracts.tables`).
        columns: the columns to read; all of the contract's columns when None.
        where: a DataFusion SQL condition on the rows, e.g. `"alert"`.
    """
    known = catalogue_entry(name).schema.fieldNames()
    wanted = list(columns) if columns is not None else known
    unknown = set(wanted) - set(known)
    if unknown:
        raise ValueError(f"{name} has no columns {sorted(unknown)}")
    try:
        table = DeltaTable(str(settings.table_path(name)))
    except TableNotFoundError:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in wanted})
    sql = f"SELECT {', '.join(map(_quoted, wanted))} FROM t"
    if where:
        sql += f" WHERE {where}"
    batches = QueryBuilder().register("t", table).execute(sql).read_all()
    return pa.table(batches).to_pandas()


def state_bytes(settings: Settings) -> int | None:
    """Bytes the customer state's checkpointed state store holds on local disk (every
    version Spark retains), None when there is none (yet, or not on a local path)."""
    folder = settings.checkpoint_path(STATE_QUERY) / "state"
    if not folder.is_dir():
        return None
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
