"""Pacing calls under a requests-per-minute and a tokens-per-minute limit.

Each limit is a generic cell rate (GCRA): a call may start once the limit's
"next free" moment has come, and pushes it on by its cost (one request, or its
estimated tokens) times 60 s / limit. Calls are thus spread evenly instead of
bursting, so a known limit is never crossed by the pipeline itself. Token
estimates are corrected with the usage the endpoint reports.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class _Cell:
    per_minute: float
    burst: float = 1.0
    next_free: float = field(default_factory=time.monotonic)

    def reserve(self, cost: float, now: float) -> float:
        """Book `cost`; return when the call may start."""
        interval = 60.0 / self.per_minute
        start = max(now, self.next_free - (self.burst - 1) * interval)
        self.next_free = max(self.next_free, now) + cost * interval
        return start

    def correct(self, delta: float) -> None:
        self.next_free += delta * 60.0 / self.per_minute


class RateLimiter:
    """`await limiter.acquire(tokens)` before a call; `limiter.settle(estimated, actual)` after."""

    def __init__(self, rpm: int | None, tpm: int | None) -> None:
        self._requests = _Cell(float(rpm)) if rpm else None
        self._tokens = _Cell(float(tpm)) if tpm else None

    @property
    def counts_tokens(self) -> bool:
        return self._tokens is not None

    async def acquire(self, tokens: int) -> None:
        now = time.monotonic()
        start = now
        if self._requests is not None:
            start = max(start, self._requests.reserve(1, now))
        if self._tokens is not None:
            start = max(start, self._tokens.reserve(tokens, now))
        if start > now:
            await asyncio.sleep(start - now)

    def settle(self, estimated: int, actual: int) -> None:
        if self._tokens is not None and actual > 0:
            self._tokens.correct(actual - estimated)
