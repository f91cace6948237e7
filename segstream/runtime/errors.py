"""Errors of the local runtime: jars, the embedded broker and the processes around them."""


class RuntimeSetupError(RuntimeError):
    """The local runtime cannot be prepared (Java missing, jars unreachable, ...)."""


class BrokerError(RuntimeError):
    """The embedded Kafka broker could not be started, reached or stopped."""
