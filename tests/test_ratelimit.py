"""The limiter spreads calls so that a known per-minute limit is never crossed."""

from __future__ import annotations

import asyncio
import time

from extract.stages.ratelimit import RateLimiter


async def _starts(limiter: RateLimiter, n: int, tokens: int) -> list[float]:
    starts: list[float] = []

    async def one() -> None:
        await limiter.acquire(tokens)
        starts.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(n)))
    return sorted(starts)


def test_requests_per_minute_are_spread_evenly() -> None:
    starts = asyncio.run(_starts(RateLimiter(rpm=1200, tpm=None), 21, tokens=10))  # one every 50 ms
    span = starts[-1] - starts[0]
    assert 0.9 <= span <= 1.4
    # No 1-second window holds more than the per-second share (+1 for the edge).
    assert max(sum(1 for t in starts if s <= t < s + 0.5) for s in starts) <= 11


def test_tokens_per_minute_pace_by_tokens_and_settle_corrects() -> None:
    limiter = RateLimiter(rpm=None, tpm=60_000)  # 1,000 tokens a second
    starts = asyncio.run(_starts(limiter, 5, tokens=200))  # 200 ms apart
    assert 0.7 <= starts[-1] - starts[0] <= 1.1
    limiter.settle(estimated=200, actual=1200)  # the last call used 1,000 tokens more than estimated
    began = time.monotonic()
    asyncio.run(_starts(limiter, 1, tokens=1))
    assert time.monotonic() - began >= 0.9


def test_no_limits_means_no_waiting() -> None:
    began = time.monotonic()
    asyncio.run(_starts(RateLimiter(rpm=None, tpm=None), 100, tokens=1000))
    assert time.monotonic() - began < 0.2
