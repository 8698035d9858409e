"""The standard retry mode's rules, as botocore's ``retries/standard.py`` applies them.

- Retried: throttling codes, transient codes, HTTP 500/502/503/504, answers whose body fails
  its ``x-amz-crc32`` check, and requests that got no answer (no connection, a broken one,
  a timeout); at most ``max_attempts`` attempts in all.
- Delay before attempt ``n + 1``: ``random() * min(2 ** (n - 1), 20)`` seconds (exponential
  backoff with full jitter).
- A retry quota shared by the client: 500 tokens; a retry takes 5 (10 after a timeout) and
  is not made when they are not there; an answer without retries gives 1 back, one after
  retries gives back what its last retry took.

Clock skew is ours (botocore has none; the Java and JavaScript SDKs do): an answer refusing
the request's time is retried once with the clock corrected by the answer's ``Date``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

__all__ = [
    "CLOCK_SKEW_CODES",
    "MAX_BACKOFF",
    "THROTTLING_CODES",
    "TRANSIENT_CODES",
    "TRANSIENT_STATUS",
    "RetryQuota",
    "backoff",
]

# botocore's ThrottledRetryableChecker._THROTTLED_ERROR_CODES.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
# The codes by which AWS services refuse a request signed at a time too far from theirs.
CLOCK_SKEW_CODES = frozenset(
    {
        "AuthFailure",
        "InvalidSignatureException",
        "RequestExpired",
        "RequestInTheFuture",
        "RequestTimeTooSkewed",
        "SignatureDoesNotMatch",
    }
)
MAX_BACKOFF = 20.0
RETRY_COST = 5
TIMEOUT_RETRY_COST = 10
NO_RETRY_INCREMENT = 1


def backoff(attempt: int, draw: Callable[[], float] = random.random) -> float:
    """Seconds to wait after attempt ``attempt`` (1-based) failed."""
    return draw() * min(2.0 ** (attempt - 1), MAX_BACKOFF)


class RetryQuota:
    """The tokens retries spend; one per client, shared by its event loops' threads."""

    def __init__(self, capacity: int = 500) -> None:
        self.max_capacity = capacity
        self.available = capacity
        self._lock = threading.Lock()

    def acquire(self, amount: int) -> bool:
        with self._lock:
            if amount > self.available:
                return False
            self.available -= amount
            return True

    def release(self, amount: int) -> None:
        if self.available == self.max_capacity:
            return
        with self._lock:
            self.available = min(self.max_capacity, self.available + amount)
