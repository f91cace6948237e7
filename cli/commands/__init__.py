"""The `segstream` commands, one module per group:

    runtime.py    config, jars, kafka, topics
    simulate.py   simulate
    replay.py     replay
    stream.py     stream, demo
    models.py     retrain, models, rescore
    jobs.py       scores, drift, scheduler, verify, compact; `run_spark_job`, the Spark
                  job runner of these and of models.py
    monitor.py    monitor

Each module has `register(add)`, which declares its commands and their options through the
`add` helper of `cli/main.py` (which adds the common settings options), and the
`cmd_*` functions that run them. Heavy modules (Spark, Kafka clients, `batch.*`,
`producers.*`) are imported inside the `cmd_*` functions so `segstream --help` is fast.

This module holds what they share: the `add` and command types and the option parsers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from segstream.config import Settings

Command = Callable[[Settings, argparse.Namespace], int]
"""Runs a command with the effective settings and its parsed arguments; returns the exit code."""


class Add(Protocol):
    """`add(name, func, help_, example)`: adds the sub-command `name` that runs `func`, with
    `help_` as its help and description; the epilog is `example` and the settings note, or
    `epilog` and the settings note when given. Returns the sub-parser for its options."""

    def __call__(
        self,
        name: str,
        func: Command,
        help_: str,
        example: str,
        *,
        epilog: str | None = None,
    ) -> argparse.ArgumentParser: ...


# argparse names a type function in its error message ("invalid _utc_datetime value: 'x'",
# "invalid parse value: 'x'"), so these keep their names.


def _utc_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _positive(kind: Callable[[str], float | int]) -> Callable[[str], float | int]:
    def parse(text: str) -> float | int:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse
