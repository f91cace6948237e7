"""The root of every error segstream raises on purpose.

The command line catches `SegstreamError` once and prints its message as one line; anything
else is a bug and keeps its traceback. Each concern defines its own subclasses next to the
code that raises them (`ConfigError` in config, `BrokerError` in the runtime, ...).
"""

from __future__ import annotations


class SegstreamError(Exception):
    """A failure segstream explains itself: bad input, missing data, an unusable setting."""

    #: The exit code of a command that fails with this error.
    exit_code: int = 1


class UsageError(SegstreamError):
    """A command was called with arguments it cannot use."""

    exit_code = 2
