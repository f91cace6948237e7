"""Errors of the local runtime: jars, the embedded broker and the processes around them."""

from __future__ import annotations

from segstream.errors import SegstreamError


class RuntimeSetupError(SegstreamError):
    """The local runtime cannot be prepared (Java missing, jars unreachable, ...)."""


class BrokerError(SegstreamError):
    """The embedded Kafka broker could not be started, reached or stopped."""
