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

    `retry_after` is the wait in seconds the endpoint asked for, if it did.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class TerminalModelError(ModelError):
    """A model call failed in a way retrying cannot fix (401, 403, bad request); stops the run."""


class NotFound(ExtractError):
    """A claim, run or table the user named does not exist."""
