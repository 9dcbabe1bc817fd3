"""The transport retry policy: 429, 5xx, timeouts and dropped connections.

Kept apart from validation re-asks (a bad answer is asked again with its error)
and from truncation (a cut-off answer makes the chunk split): each is counted on
its own. Waits are exponential with jitter, unless the endpoint said how long
to wait (Retry-After / retry-after-ms), which is honoured up to a cap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from extract.errors import TransientModelError

T = TypeVar("T")
MAX_WAIT_SECONDS = 120.0
_backoff = wait_exponential_jitter(multiplier=0.5, max=30.0, jitter=0.5)


def _wait(state: RetryCallState) -> float:
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    if isinstance(exc, TransientModelError) and exc.retry_after is not None:
        return min(exc.retry_after, MAX_WAIT_SECONDS)
    return float(_backoff(state))


async def with_transport_retries(
    call: Callable[[], Awaitable[T]], *, retries: int, on_retry: Callable[[TransientModelError], None]
) -> T:
    """Run `call`, retrying transient faults up to `retries` times; the last fault is raised."""

    def before_sleep(state: RetryCallState) -> None:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, TransientModelError):
            on_retry(exc)

    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(TransientModelError),
        stop=stop_after_attempt(retries + 1),
        wait=_wait,
        before_sleep=before_sleep,
        reraise=True,
    ):
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity either returns or re-raises")


def with_transport_retries_sync(call: Callable[[], T], *, retries: int) -> T:
    """The same policy for a blocking call (the merge's arbiters)."""
    for attempt in Retrying(
        retry=retry_if_exception_type(TransientModelError),
        stop=stop_after_attempt(retries + 1),
        wait=_wait,
        reraise=True,
    ):
        with attempt:
            return call()
    raise AssertionError("unreachable: tenacity either returns or re-raises")
