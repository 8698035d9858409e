"""A token bucket that paces capacity units, slowed further when DynamoDB throttles.

Units are reserved before a request is sent (an estimate) and corrected when its consumed
capacity comes back, so the bucket may run into debt; the next reservation then waits until
the debt is paid at the current rate. Reservations are served one at a time in the order
they came, so concurrent requests share the rate fairly and at most one request's units are
ever ahead of it.

The rate follows additive increase, multiplicative decrease: a throttle halves it (at most
once per ``cooldown``, so a burst of throttled requests in flight counts once), and it grows
back linearly, by ``recovery`` x the limit per second, to the limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    """Paces units at ``limit`` per second at most; pure bookkeeping plus ``take``."""

    def __init__(
        self,
        limit: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        burst: float = 0.25,
        floor: float = 0.05,
        recovery: float = 0.1,
        cooldown: float = 1.0,
    ) -> None:
        if not limit > 0:
            raise ValueError(f"a rate limit must be above 0, got {limit!r}")
        self.limit = float(limit)
        self._clock = clock
        self._burst = burst  # seconds of the rate that may be saved up while idle
        self._floor = floor * self.limit
        self._recovery = recovery * self.limit
        self._cooldown = cooldown
        self._tokens = 0.0
        self._last = clock()
        self._low = self.limit  # the rate right after the last decrease
        self._decreased: float | None = None  # when
        # One lock per event loop: a session (and its budget) outlives a loop in Lambda.
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self.throttles = 0  # decreases made

    def rate(self, now: float | None = None) -> float:
        """The current rate, units per second."""
        if self._decreased is None:
            return self.limit
        now = self._clock() if now is None else now
        return min(self.limit, self._low + self._recovery * (now - self._decreased))

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._last)
        if elapsed:
            # The rate changes linearly while it recovers: the average over the interval.
            average = (self.rate(self._last) + self.rate(now)) / 2
            cap = max(self._burst * self.rate(now), 0.0)
            self._tokens = min(cap, self._tokens + average * elapsed)
            self._last = now

    def delay(self, now: float | None = None) -> float:
        """Seconds until a reservation may go: 0 when the bucket is not in debt."""
        now = self._clock() if now is None else now
        self._refill(now)
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate(now)

    def reserve(self, units: float) -> None:
        """Take ``units`` now (the bucket may go into debt)."""
        self._refill(self._clock())
        self._tokens -= units

    def correct(self, reserved: float, consumed: float) -> None:
        """What a request really consumed, after ``reserved`` was taken for it."""
        self._tokens += reserved - consumed

    def throttled(self) -> None:
        """DynamoDB throttled a request: halve the rate (once per cooldown)."""
        now = self._clock()
        if self._decreased is not None and now - self._decreased < self._cooldown:
            return
        self._refill(now)
        self._low = max(self._floor, self.rate(now) / 2)
        self._decreased = now
        self.throttles += 1

    async def take(self, units: float) -> None:
        """Wait until the bucket is out of debt, then reserve ``units``; callers are served
        in the order they came."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            self._lock = (loop, asyncio.Lock())
        async with self._lock[1]:
            # The rate may fall while this waits (a throttle): wait again for what is left.
            wait = self.delay()
            while wait > 0:
                await asyncio.sleep(wait)
                wait = self.delay()
            self.reserve(units)
