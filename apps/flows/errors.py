"""Errors a card raises; the engine turns them into a failed card with its message."""


class CardError(Exception):
    """The card could not do its work; retrying will not help (bad input, not found...)."""


class TransientCardError(CardError):
    """A passing failure (timeout, connection refused, HTTP 429 or 5xx): worth retrying."""


class FlowLimitExceeded(CardError):
    """A run went past one of the engine's limits (cards executed, time, nesting, size)."""


class FlowStopped(Exception):
    """Raised by control cards to end the run early: `return` or a failed `continue if`."""

    def __init__(self, output=None):
        self.output = output
        super().__init__("stopped")
