"""The exception hierarchy: one root, config/input errors apart from runtime ones.

Errors carry context so that a one-line message can name what failed.
"""

from __future__ import annotations


class ExtractError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(ExtractError):
    """The pipeline config or a command's arguments are wrong (exit code 2)."""


class InputError(ExtractError):
    """An input cannot be used at all (exit code 2)."""


class SkippedInput(ExtractError):
    """One input file is skipped (binary, empty, undecodable); the run goes on."""

    def __init__(self, path: str, kind: str, detail: str) -> None:
        self.path = path
        self.kind = kind
        self.detail = detail
        super().__init__(f"skipped {path}: {kind} ({detail})")


class DatabaseInUse(ExtractError):
    """Another process holds the database file."""


class ModelError(ExtractError):
    """A model call failed."""

    def __init__(self, message: str, *, chunk_id: str | None = None, attempts: int = 0) -> None:
        self.chunk_id = chunk_id
        self.attempts = attempts
        super().__init__(message)


class TransientModelError(ModelError):
    """A model call failed in a way that may succeed when retried (429, 5xx, timeout).

    `retry_after` is the wait in seconds the endpoint asked for, if it did;
    `reached` is False only when no connection could be made at all (the one
    case a message may call the endpoint unreachable).
    """

    def __init__(self, message: str, *, retry_after: float | None = None, reached: bool = True) -> None:
        self.retry_after = retry_after
        self.reached = reached
        super().__init__(message)


class EndpointBusy(TransientModelError):
    """The endpoint could not serve the calls in flight (no answer within `model.timeout`,
    or llama-server's shared context pool overflowing): retried with fewer in flight."""


class ModelTimeout(EndpointBusy):
    """No answer within `model.timeout`."""


class TerminalModelError(ModelError):
    """A model call failed in a way retrying cannot fix (401, 403, bad request); stops the run."""


class RequestRefused(TerminalModelError):
    """The endpoint answered that the request's shape is wrong (400, 404, 422, or a 500
    carrying a validation error): sending it again cannot help, so it is never retried."""

    def __init__(self, message: str, *, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail  # the first line of the endpoint's own message
        super().__init__(message)


class FormatRefused(RequestRefused):
    """The endpoint refused the request's structured-output format (`response_format`)."""


class ContextExceeded(RequestRefused):
    """The prompt and the completion budget do not fit the endpoint's context window."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (what a job scheduler sends), handled like Ctrl-C: the run stops, is
    marked interrupted and prints its summary so far."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"signal {signum}")


class NotFound(ExtractError):
    """A claim, run or table the user named does not exist."""
