"""Logging of every segstream process, configured once by its entry point."""

from __future__ import annotations

import logging


def configure(level: str) -> None:
    """One line per record, to stderr; kafka-python and py4j only when they matter."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # kafka-python narrates every connection at INFO; our own code reports what matters.
    logging.getLogger("kafka").setLevel(logging.ERROR if level != "DEBUG" else logging.DEBUG)
    logging.getLogger("py4j").setLevel(logging.WARNING)
